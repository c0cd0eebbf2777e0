"""distillplan: plan diffusion trajectory distillation.

Which teacher steps to merge, in which order (operator merging, arXiv 2505.16024), and on which
time grid (quantitative flow distillation, arXiv 2606.03820).
"""

from .errors import DistillPlanError
from .schedules import TimeGrid, VPSchedule, make_schedule

__version__ = "0.1.0"

__all__ = ["DistillPlanError", "TimeGrid", "VPSchedule", "make_schedule", "__version__"]
