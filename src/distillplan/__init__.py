"""distillplan: plan diffusion trajectory distillation.

Which teacher steps to merge, in which order (operator merging, arXiv 2505.16024), and on which
time grid (quantitative flow distillation, arXiv 2606.03820).

The theory layers (numpy: :mod:`.linear`, :mod:`.mixture`, :mod:`.schedules`) are re-exported here. Torch
lives in :mod:`.nn` (students, training loop, runtime), :mod:`.flowmap` (paper 2 segment distillation),
:mod:`.merging` (paper 1 trained students) and :mod:`.latent` (VAE and latent teacher); reproducible studies
in :mod:`.studies` on the :mod:`.runner`; what each command does in :mod:`.pipelines`.
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
