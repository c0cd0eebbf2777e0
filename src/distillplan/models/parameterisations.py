"""What a network predicts, and how each prediction becomes the probability-flow velocity.

With ``x = α x_0 + σ ε`` at process time ``t`` and the PF velocity ``v = a x + b ε̂`` (``a, b`` from
:meth:`~.processes.NoiseProcess.pf_coefficients`), each parameterisation gives ε̂ from the output ``out``:

* ``epsilon``  — noise prediction:            ε̂ = out
* ``x0``       — data prediction x̂_0:         ε̂ = (x − α x̂_0) / σ
* ``v``        — v-prediction α ε − σ x_0:     ε̂ = α v̂ + σ x        (needs α² + σ² = 1)
* ``score``    — ŝ = ∇log p_t(x):              ε̂ = −σ ŝ
* ``velocity`` — dx/dt = α' x_0 + σ' ε in process time (rectified flow: ε − x_0), returned as is.

The inverses (:func:`from_velocity`) go back through ε̂ = (v − a x)/b. Coefficients are float64 scalars;
the tensor arithmetic stays in the dtype of ``out``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import DistillPlanError
from .processes import NoiseProcess

__all__ = ["PARAMETERISATIONS", "check_parameterisation", "to_velocity", "to_epsilon", "from_velocity"]

PARAMETERISATIONS = ("epsilon", "x0", "v", "score", "velocity")


def check_parameterisation(parameterisation, process: NoiseProcess) -> str:
    """``parameterisation`` if it is known and fits ``process`` (``v`` needs a variance-preserving one)."""
    if parameterisation not in PARAMETERISATIONS:
        raise DistillPlanError("parameterisation",
                               f"unknown {parameterisation!r}; choose from {list(PARAMETERISATIONS)}")
    if parameterisation == "v" and not process.variance_preserving:
        raise DistillPlanError("parameterisation", f"v-prediction needs a variance-preserving process "
                                                   f"(α² + σ² = 1); the {process.name} process is not")
    return parameterisation


def to_velocity(out: torch.Tensor, x: torch.Tensor, t: float, process: NoiseProcess,
                parameterisation: str) -> torch.Tensor:
    """The PF velocity ``a x + b ε̂`` from the network output ``out`` at ``(x, t)`` (see the module docstring)."""
    check_parameterisation(parameterisation, process)
    if parameterisation == "velocity":
        return out
    eps = to_epsilon(out, x, t, process, parameterisation)
    _, _, a, b = _coefficients(process, t)
    _finite(a, b, parameterisation, process, t)
    return a * x + b * eps


def to_epsilon(out: torch.Tensor, x: torch.Tensor, t: float, process: NoiseProcess,
               parameterisation: str) -> torch.Tensor:
    """ε̂ from the network output ``out`` at ``(x, t)`` (module docstring; velocity: ε̂ = (v − a x)/b)."""
    check_parameterisation(parameterisation, process)
    if parameterisation == "velocity":
        return from_velocity(out, x, t, process, "epsilon")
    alpha, sigma, _, _ = _coefficients(process, t)
    if parameterisation == "epsilon":
        return out
    if parameterisation == "x0":
        _nonzero(sigma, "σ", parameterisation, process, t)
        return (x - alpha * out) / sigma
    if parameterisation == "v":
        return alpha * out + sigma * x
    return -sigma * out  # score


def from_velocity(v: torch.Tensor, x: torch.Tensor, t: float, process: NoiseProcess,
                  parameterisation: str) -> torch.Tensor:
    """Inverse of :func:`to_velocity`: the output of kind ``parameterisation`` whose velocity is ``v``.

    ε̂ = (v − a x)/b, then epsilon: ε̂; x0: (x − σ ε̂)/α; v: (ε̂ − σ x)/α; score: −ε̂/σ;
    velocity: v itself.
    """
    check_parameterisation(parameterisation, process)
    if parameterisation == "velocity":
        return v
    alpha, sigma, a, b = _coefficients(process, t)
    _finite(a, b, parameterisation, process, t)
    _nonzero(b, "b", parameterisation, process, t)
    eps = (v - a * x) / b
    if parameterisation == "epsilon":
        return eps
    if parameterisation == "score":
        _nonzero(sigma, "σ", parameterisation, process, t)
        return -eps / sigma
    _nonzero(alpha, "α", parameterisation, process, t)
    if parameterisation == "x0":
        return (x - sigma * eps) / alpha
    return (eps - sigma * x) / alpha


def _coefficients(process: NoiseProcess, t: float) -> tuple[float, float, float, float]:
    """``(α, σ, a, b)`` at ``t``; evaluated as arrays so a singular end gives inf/NaN rather than raising."""
    ts = np.array([t], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = process.pf_coefficients(ts)
        return float(process.alpha(ts)[0]), float(process.sigma(ts)[0]), float(a[0]), float(b[0])


def _finite(a: float, b: float, parameterisation: str, process: NoiseProcess, t: float) -> None:
    if not (math.isfinite(a) and math.isfinite(b)):
        raise DistillPlanError("t", f"the {parameterisation} parameterisation is singular at t = {t:g} of the "
                                    f"{process.name} process (α = {float(process.alpha(t)):g}, "
                                    f"σ = {float(process.sigma(t)):g}); keep t inside the open ends")


def _nonzero(value: float, label: str, parameterisation: str, process: NoiseProcess, t: float) -> None:
    if value == 0.0:
        raise DistillPlanError("t", f"the {parameterisation} parameterisation is singular at t = {t:g} of the "
                                    f"{process.name} process ({label} = 0 there); keep t inside the open ends")
