"""Paper 1 (arXiv 2505.16024) beyond the closed form: trained students along merge plans.

* :mod:`.vp_mixture` — a Gaussian mixture under the discrete VP teacher (numpy, float64): exact denoiser,
  DDIM steps, and the gated-affine branches of a k-step composite.
* :mod:`.mixture_ddim` — its torch twin, the exact DDIM teacher for training.
* :mod:`.linear_students` — diagonal linear students trained by gradient descent along a plan.
* :mod:`.plan_students` — any students distilled stage by stage along a plan (warm start, shared subtrees).
"""

from .linear_students import TrainedPlan, analytic_node_values, budget_for_lr, lr_for_budget, train_plan
from .mixture_ddim import MixtureDDIM
from .plan_students import Stage, distill_stages

__all__ = ["MixtureDDIM", "Stage", "TrainedPlan", "distill_stages", "analytic_node_values", "budget_for_lr", "lr_for_budget", "train_plan"]
