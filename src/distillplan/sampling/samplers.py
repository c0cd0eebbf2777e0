"""Deterministic samplers over any decreasing grid of process times, for any :class:`VelocityField`.

All work in k-diffusion coordinates, x̃ = x/α and σ̃ = σ/α, where the probability-flow ODE reads
``dx̃/dσ̃ = ε̂`` and the denoiser is ``D = x̂_0 = (x − σ ε̂)/α`` (:mod:`distillplan.models.processes`):

* ``euler`` — ``x̃' = x̃ + (σ̃' − σ̃) ε̂`` (one evaluation per step);
* ``ddim`` — ``x' = α' x̂_0 + σ' ε̂`` (Song et al., η = 0): the same map as ``euler`` written in x, kept
  as its own formula so the two check each other;
* ``heun`` — Karras et al. (2022) Alg. 1: Euler, then the trapezoid with ε̂ at the predicted point (two
  evaluations per step; Euler on a final step to σ̃ = 0);
* ``dpmpp-2m`` — DPM-Solver++(2M) (Lu et al. 2022) in λ = −ln σ̃ with data prediction:
  ``x̃' = e^{−h} x̃ + (1 − e^{−h}) D̄``, h = λ' − λ, D̄ = (1 + 1/(2r)) D_i − D_{i−1}/(2r), r = h_{i−1}/h_i, and
  D̄ = D_i on the first step and on a final step to σ̃ = 0.

A run integrates from the grid's first time to its last and returns the state there (no extra denoising).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DistillPlanError, check_finite_array
from ..models.field import VelocityField

__all__ = ["SAMPLERS", "sample", "evaluations", "epsilon"]

SAMPLERS = ("euler", "ddim", "heun", "dpmpp-2m")


def epsilon(field: VelocityField, x: torch.Tensor, t: float) -> torch.Tensor:
    """ε̂(x, t): the field's own ``epsilon`` when it has one, else from (1) of the processes module,
    ``ε̂ = (v − a x)/b``."""
    own = getattr(field, "epsilon", None)
    if own is not None:
        return own(x, t)
    a, b = field.process.pf_coefficients(t)
    return (field.velocity(x, t) - a * x) / b


def evaluations(method: str, process, times) -> int:
    """Model evaluations of one run of ``method`` over ``times`` (Heun: two per step, one on a last step
    to σ = 0)."""
    steps = len(times) - 1
    if method == "heun":
        return 2 * steps - (1 if process.sigma(float(times[-1])) == 0 else 0)
    return steps


def sample(field: VelocityField, x: torch.Tensor, times, method: str = "euler") -> torch.Tensor:
    """Integrate the probability-flow ODE of ``field`` from ``times[0]`` to ``times[-1]`` (decreasing)."""
    if method not in SAMPLERS:
        raise DistillPlanError("sampler", f"unknown sampler {method!r}; choose from {list(SAMPLERS)}")
    t = check_finite_array("grid", times)
    if t.size < 2 or not np.all(np.diff(t) < 0):
        raise DistillPlanError("grid", "needs at least 2 strictly decreasing times (noise → data)")
    field.process.check_times(t, "grid")
    proc = field.process
    alpha, sigma = proc.alpha(t), proc.sigma(t)
    st = sigma / alpha  # σ̃
    with torch.no_grad():
        if method == "ddim":
            for i in range(t.size - 1):
                eps = epsilon(field, x, float(t[i]))
                x0 = (x - sigma[i] * eps) / alpha[i]
                x = alpha[i + 1] * x0 + sigma[i + 1] * eps
            return x
        xt = x / alpha[0]
        previous = None  # (D, h) of the last step, for dpmpp-2m
        for i in range(t.size - 1):
            eps = epsilon(field, xt * alpha[i], float(t[i]))
            if method == "euler":
                xt = xt + (st[i + 1] - st[i]) * eps
            elif method == "heun":
                guess = xt + (st[i + 1] - st[i]) * eps
                if st[i + 1] == 0:
                    xt = guess
                else:
                    eps2 = epsilon(field, guess * alpha[i + 1], float(t[i + 1]))
                    xt = xt + (st[i + 1] - st[i]) * 0.5 * (eps + eps2)
            else:  # dpmpp-2m
                D = xt - st[i] * eps
                if st[i + 1] == 0:
                    xt = D
                    continue
                h = float(np.log(st[i]) - np.log(st[i + 1]))
                Dbar = D
                if previous is not None:
                    r = previous[1] / h
                    Dbar = (1 + 1 / (2 * r)) * D - previous[0] / (2 * r)
                xt = float(np.exp(-h)) * xt - float(np.expm1(-h)) * Dbar
                previous = (D, h)
        return xt * alpha[-1]
