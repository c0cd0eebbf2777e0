"""Planners for the optimal merge plan: exhaustive (ground truth), oriented DP, relaxed (diagonal Λ), Pareto DP."""

from .exhaustive import count_plans, enumerate_plans, exhaustive_plan
from .oriented import check_stage_front, max_front_stages, oriented_stage_tables, oriented_tables
from .pareto import pareto_dp
from .relaxed import RelaxedOutcome, relaxed_plan
from .result import FrontPoint, PlannerResult
from .solve import (CERTIFY_RTOL, MAX_DISTINCT_VARIANCES, MAX_DP_ENTRIES, MAX_RELAXED_ENTRIES, SOLVERS,
                    check_planner_size, coordinate_bounds, optimal_plan, planner_seconds, uses_relaxed)

__all__ = [
    "CERTIFY_RTOL", "FrontPoint", "MAX_DISTINCT_VARIANCES", "MAX_DP_ENTRIES", "MAX_RELAXED_ENTRIES", "PlannerResult",
    "RelaxedOutcome", "SOLVERS", "check_planner_size", "check_stage_front", "count_plans", "coordinate_bounds",
    "enumerate_plans", "exhaustive_plan", "max_front_stages", "optimal_plan", "oriented_stage_tables",
    "oriented_tables", "pareto_dp", "planner_seconds", "relaxed_plan", "uses_relaxed",
]
