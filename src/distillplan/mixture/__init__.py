"""Paper 2 (arXiv 2606.03820) theory: Gaussian mixtures under the OU process, pure numpy/scipy.

* :mod:`.model` — :class:`IsotropicMixture`, :class:`OUProcess`, time-t marginals, score, PF velocity
  ``v = −β(x + ∇log p_t)`` and its Jacobian.
* :mod:`.stability` — the Lipschitz bound L(t), the stability coordinate A(t) = ∫_0^t L (closed form
  and quadrature) and the amplification factor exp(∫L).
* :mod:`.grids` — stability-balanced, uniform, Karras and log-SNR :class:`~distillplan.schedules.TimeGrid` s.
* :mod:`.data` — the paper's means and fitting an isotropic mixture to user data.
"""

from . import data, grids, model, stability
from .data import *  # noqa: F403 - the public names of each module, listed in its __all__
from .grids import *  # noqa: F403
from .model import *  # noqa: F403
from .stability import *  # noqa: F403

__all__ = [*model.__all__, *stability.__all__, *grids.__all__, *data.__all__]
