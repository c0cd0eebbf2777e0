"""distillplan: plan diffusion trajectory distillation.

Which teacher steps to merge, in which order (operator merging, arXiv 2505.16024), and on which
time grid (quantitative flow distillation, arXiv 2606.03820).

The theory layers (numpy) are re-exported here; training (torch), studies and front ends live in
their subpackages (``distillplan.train``, ``distillplan.experiments``, ``distillplan.cli``).
"""

from .errors import DistillPlanError
from .linear import (
    LinearTeacher,
    MergeModel,
    Plan,
    PlannerResult,
    boot,
    canonical_plan,
    consistency,
    evaluate_plan,
    optimal_plan,
    progressive,
    vanilla,
)
from .linear.compare import compare_strategies
from .mixture import IsotropicMixture, OUProcess, make_grid, stability_grid, uniform_grid
from .schedules import TimeGrid, VPSchedule, make_schedule

__version__ = "0.1.0"

__all__ = [
    "DistillPlanError", "IsotropicMixture", "LinearTeacher", "MergeModel", "OUProcess", "Plan", "PlannerResult",
    "TimeGrid", "VPSchedule", "boot", "canonical_plan", "compare_strategies", "consistency", "evaluate_plan",
    "make_grid", "make_schedule", "optimal_plan", "progressive", "stability_grid", "uniform_grid", "vanilla",
    "__version__",
]
