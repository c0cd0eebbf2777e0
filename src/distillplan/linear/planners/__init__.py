"""Planners for the optimal merge plan: exhaustive (ground truth), oriented DP, Pareto DP."""

from .exhaustive import count_plans, enumerate_plans, exhaustive_plan
from .oriented import oriented_stage_tables, oriented_tables
from .pareto import pareto_dp
from .result import FrontPoint, PlannerResult
from .solve import SOLVERS, coordinate_bounds, optimal_plan

__all__ = [
    "FrontPoint", "PlannerResult", "SOLVERS", "count_plans", "coordinate_bounds", "enumerate_plans",
    "exhaustive_plan", "optimal_plan", "oriented_stage_tables", "oriented_tables", "pareto_dp",
]
