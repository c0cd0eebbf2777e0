"""Planners for the optimal merge plan: exhaustive (ground truth), oriented DP, Pareto DP."""

from .exhaustive import count_plans, enumerate_plans, exhaustive_plan
from .oriented import check_stage_front, max_front_stages, oriented_stage_tables, oriented_tables
from .pareto import pareto_dp
from .result import FrontPoint, PlannerResult
from .solve import (MAX_DISTINCT_VARIANCES, MAX_DP_ENTRIES, SOLVERS, check_planner_size, coordinate_bounds,
                    optimal_plan, planner_seconds)

__all__ = [
    "FrontPoint", "MAX_DISTINCT_VARIANCES", "MAX_DP_ENTRIES", "PlannerResult", "SOLVERS", "check_planner_size",
    "check_stage_front", "count_plans", "coordinate_bounds", "enumerate_plans", "exhaustive_plan", "max_front_stages",
    "optimal_plan", "oriented_stage_tables", "oriented_tables", "pareto_dp", "planner_seconds",
]
