"""Calibrated grids: measure a trained field's stiffness profile and balance a time grid on it.

Paper 2 bounds ``||∂v/∂x||₂ ≤ L(t)`` for Gaussian mixtures and splits ``A(T) = ∫_0^T L`` evenly; here the
profile is measured on the model itself, along its own probability-flow trajectories.

* :mod:`.coordinate` — the profile coordinate (half log-SNR, saturated at infinite ends).
* :mod:`.trajectories` — profile times and RK4 trajectories from noise to data.
* :mod:`.profiles` — ``||∂v/∂x||₂`` by power iteration (jvp/vjp), ``||dv/dt||`` by differences, and ρ.
* :mod:`.stability` — ``Â(t) = ∫ρ``, the balanced grid and the bootstrap bands.
* :mod:`.grid`, :mod:`.result` — :class:`ProcessGrid` (ends at ``t_min``) and :class:`Calibration`.
* :mod:`.api` — :func:`calibrate` and :func:`calibration_cost`.
"""

from . import api, coordinate, grid, profiles, result, stability, trajectories
from .api import *  # noqa: F403 - the public names of each module, listed in its __all__
from .coordinate import *  # noqa: F403
from .grid import *  # noqa: F403
from .profiles import *  # noqa: F403
from .result import *  # noqa: F403
from .stability import *  # noqa: F403
from .trajectories import *  # noqa: F403

__all__ = [*api.__all__, *coordinate.__all__, *grid.__all__, *profiles.__all__, *result.__all__,
           *stability.__all__, *trajectories.__all__]
