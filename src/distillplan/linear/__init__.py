"""Paper 1 (arXiv 2505.16024): operator merging in the linear-Gaussian regime."""

from .merge import INITS, RATES, MergeModel, PlanResult, evaluate_plan, node_values, w2_to_data, w2_to_surrogate
from .plan import MAX_STEPS, Plan, check_steps
from .planners import FrontPoint, PlannerResult, count_plans, enumerate_plans, exhaustive_plan, optimal_plan
from .strategies import STRATEGIES, boot, canonical_plan, consistency, progressive, vanilla
from .teacher import LAM_RANGE, LinearTeacher, check_variances

__all__ = [
    "INITS", "LAM_RANGE", "MAX_STEPS", "RATES", "STRATEGIES", "FrontPoint", "LinearTeacher", "MergeModel", "Plan",
    "PlanResult", "PlannerResult", "boot", "canonical_plan", "check_steps", "check_variances", "consistency",
    "count_plans", "enumerate_plans", "evaluate_plan", "exhaustive_plan", "node_values", "optimal_plan", "progressive", "vanilla",
    "w2_to_data", "w2_to_surrogate",
]
