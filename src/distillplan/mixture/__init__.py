"""Paper 2 (arXiv 2606.03820) theory: Gaussian mixtures under the OU process, pure numpy/scipy.

* :mod:`.model` — :class:`IsotropicMixture`, :class:`OUProcess`, time-t marginals, score, PF velocity
  ``v = −β(x + ∇log p_t)`` and its Jacobian.
* :mod:`.stability` — the Lipschitz bound L(t), the stability coordinate A(t) = ∫_0^t L (closed form
  and quadrature) and the amplification factor exp(∫L).
* :mod:`.grids` — stability-balanced, uniform, Karras and log-SNR :class:`~distillplan.schedules.TimeGrid` s.
* :mod:`.data` — the paper's means and fitting an isotropic mixture to user data.
"""

from .data import fit_isotropic_mixture, paper_means, paper_mixture
from .grids import (
    DEFAULT_SIGMA_MIN,
    GRID_KINDS,
    TEACHER_GRIDS,
    geometric_nodes,
    karras_grid,
    logsnr_grid,
    make_grid,
    segment_stability,
    stability_grid,
    stiff_floor,
    uniform_grid,
)
from .model import (
    IsotropicMixture,
    OUProcess,
    log_density,
    pf_velocity,
    responsibilities,
    sample_marginal,
    score,
    velocity_jacobian,
)
from .stability import (
    amplification_factor,
    cumulative_stability,
    cumulative_stability_of,
    cumulative_stability_quadrature,
    lipschitz_bound,
    lipschitz_bound_of,
    mean_diameter,
)

__all__ = [
    "IsotropicMixture",
    "OUProcess",
    "sample_marginal",
    "log_density",
    "responsibilities",
    "score",
    "pf_velocity",
    "velocity_jacobian",
    "mean_diameter",
    "lipschitz_bound",
    "cumulative_stability",
    "cumulative_stability_quadrature",
    "amplification_factor",
    "GRID_KINDS",
    "DEFAULT_SIGMA_MIN",
    "uniform_grid",
    "stability_grid",
    "karras_grid",
    "logsnr_grid",
    "make_grid",
    "segment_stability",
    "TEACHER_GRIDS",
    "geometric_nodes",
    "stiff_floor",
    "lipschitz_bound_of",
    "cumulative_stability_of",
    "paper_means",
    "paper_mixture",
    "fit_isotropic_mixture",
]
