"""Measured stiffness profiles along probability-flow trajectories, and the grid density they define.

* :func:`jacobian_norms` — ``||∂v/∂x (x_i(t_j), t_j)||₂`` by power iteration on ``JᵀJ``: from a random unit
  ``u_0``, ``u_{k+1} = JᵀJ u_k / ||JᵀJ u_k||``, with ``J u`` from ``torch.func.jvp`` and ``Jᵀ(J u)`` from
  ``torch.func.vjp``. The estimate after k products is ``σ_k = √||JᵀJ u_k||``; since ``||JᵀJ u|| ≤ σ_max²``
  for every unit u, **every σ_k is a lower bound on ||J||₂** (up to rounding), and it is at least the
  Rayleigh value ``||J u_k||``; it is non-decreasing in k and converges like ``(σ_2/σ_1)^{2k}``. A row has
  converged when its relative change ``δ_k = σ_k − σ_{k−1} ≤ tol·σ_k`` and so is the geometric (Aitken)
  estimate ``δ_k q/(1 − q)``, ``q = δ_k/δ_{k−1}``, of the changes still to come, so a slowly converging row
  (q near 1) is not declared converged by one small step; a change below 64 ulps of σ_k (rounding noise)
  also counts as converged. No test on the iterates alone is a certificate: where σ_1 and σ_2 nearly
  coincide a "converged" row can still sit up to about ``(σ_1 − σ_2)/σ_1`` low (measured on mixtures:
  ≤ 1 % with k = 8, tol = 1e-3; ≤ 2e-3 with k = 30, tol = 1e-6). Rows are independent, so one jvp/vjp on
  the batch of N rows gives every row's product. A model without forward-mode derivatives gets ``J u`` as
  the vjp of its (linear) vjp instead; attention runs on the math kernel, the only one differentiable twice.
* :func:`acceleration_norms` — ``||dv/dt||`` along the trajectories, the total derivative
  ``dv/dt = ∂v/∂x·v + ∂v/∂t``. With ``F(h) = v(x + h v(x, t), t + h)`` (the tangent line of the path),
  ``F'(0) = ∂v/∂x·v + ∂v/∂t`` exactly, so the central difference ``(F(h) − F(−h))/(2h)`` (one-sided
  ``(∓3F(0) ± 4F(±h) ∓ F(±2h))/(2h)`` at the ends) is second-order accurate with 3 velocity evaluations
  per point; the step is ``h_j = ε^{1/3}·gap_j`` (ε: the dtype's machine epsilon, gap_j: the distance to the
  nearest other profile time), balancing the O(h²) truncation against the O(ε/h) rounding.
* :func:`profile_density` — the density ρ a grid equidistributes. ``jacobian``: ρ = ||J|| (paper 2's L(t),
  measured instead of bounded, so ∫ρ is the stability coordinate A). ``acceleration``: ρ = √||dv/dt||, since
  an Euler step of size h has local error ½h²||dv/dt||, and equal local errors need ``h ∝ ||dv/dt||^{−1/2}``,
  i.e. equal shares of ``∫ √||dv/dt|| dt``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..errors import DistillPlanError, check_choice, check_int_range, check_range
from ..models.field import VelocityField
from ..nn.streams import make_generator
from .trajectories import _check_field_states

__all__ = ["PROFILE_KINDS", "ITERS_RANGE", "TOL_RANGE", "PowerIteration", "jacobian_norms", "acceleration_norms",
           "difference_steps", "profile_density"]

PROFILE_KINDS = ("jacobian", "acceleration")
"""``jacobian``: ρ = ||∂v/∂x||₂ (power iteration); ``acceleration``: ρ = √||dv/dt|| (finite differences)."""
ITERS_RANGE = (1, 1000)
"""Allowed power-iteration counts k."""
TOL_RANGE = (0.0, 1.0)
"""Allowed relative convergence tolerances (0: stop early only at the rounding level)."""
_ROUNDING = 64  # changes below 64 ulps of σ are rounding noise: the row has converged


@dataclass(frozen=True, eq=False)
class PowerIteration:
    """Power-iteration estimates: ``norms`` (N, M) float64 lower bounds on ||J||₂, ``converged`` (N, M) whether
    each row met the tolerance at its last iteration, and per profile time the ``iterations`` used (M,) and
    the number of rows ``unconverged`` (M,)."""

    norms: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    unconverged: np.ndarray


def jacobian_norms(field: VelocityField, states: torch.Tensor, times, iters: int = 8, tol: float = 1e-3,
                   generator: torch.Generator | None = None) -> PowerIteration:
    """Power-iteration estimates of ``||∂v/∂x||₂`` at ``states`` (N, M, *shape) and ``times`` (M,); see the
    module docstring. Start vectors are drawn from ``generator`` (default: the stream
    ``("probe", 0, "calibrate-power")``), one (N, *shape) draw per profile time in order. With ``iters = 1``
    no change can be measured and every row counts as unconverged."""
    times = _check_profile_args(field, states, times)
    iters = check_int_range("iters", iters, *ITERS_RANGE)
    tol = check_range("tol", tol, *TOL_RANGE)
    if generator is None:
        generator = make_generator("probe", 0, "calibrate-power")
    elif not isinstance(generator, torch.Generator):
        raise DistillPlanError("generator", f"must be a torch.Generator, got {type(generator).__name__}")
    n, m = states.shape[0], states.shape[1]
    norms = np.empty((n, m))
    converged = np.zeros((n, m), dtype=bool)
    used = np.zeros(m, dtype=np.int64)
    unconverged = np.zeros(m, dtype=np.int64)
    for j, t in enumerate(times.tolist()):
        start = torch.randn(states[:, j].shape, generator=generator, dtype=field.dtype, device=generator.device)
        norms[:, j], converged[:, j], used[j] = _power_iteration(field, states[:, j], t, start.to(field.device),
                                                                 iters, tol)
        unconverged[j] = int((~converged[:, j]).sum())
    return PowerIteration(norms, converged, used, unconverged)


def acceleration_norms(field: VelocityField, states: torch.Tensor, times, steps=None) -> np.ndarray:
    """``||dv/dt||`` (N, M) float64 along the trajectories through ``states`` (N, M, *shape) at ``times``
    (M,); ``steps`` (M,) are the difference steps h_j (default :func:`difference_steps` of ``times``, which
    needs M ≥ 2). Central differences inside ``[t_min, horizon]``, one-sided at the ends (module docstring)."""
    times = _check_profile_args(field, states, times)
    if steps is None:
        steps = difference_steps(times, field.dtype)
    steps = np.atleast_1d(np.asarray(steps, dtype=np.float64))
    if steps.shape != times.shape or not np.all(np.isfinite(steps) & (steps > 0)):
        raise DistillPlanError("steps", f"needs one positive, finite step per time ({times.size}), got {steps!r}")
    process = field.process
    out = np.empty((states.shape[0], times.size))
    with torch.no_grad():
        for j, (t, h) in enumerate(zip(times.tolist(), steps.tolist())):
            x = states[:, j]
            v0 = field.velocity(x, t)
            if t - h >= process.t_min and t + h <= process.horizon:
                accel = (field.velocity(x + h * v0, t + h) - field.velocity(x - h * v0, t - h)) / (2.0 * h)
            else:
                s = h if t - h < process.t_min else -h  # forward at the data end, backward at the noise end
                if not process.t_min <= t + 2.0 * s <= process.horizon:
                    raise DistillPlanError("steps", f"step {h:g} at t = {t:g} leaves [t_min, horizon] both ways")
                f1 = field.velocity(x + s * v0, t + s)
                f2 = field.velocity(x + (2.0 * s) * v0, t + 2.0 * s)
                accel = (-3.0 * v0 + 4.0 * f1 - f2) / (2.0 * s)
            out[:, j] = _row_norms(accel)
    return out


def difference_steps(times, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """``h_j = ε^{1/3}·min_{k≠j} |t_k − t_j|`` for the finite differences of :func:`acceleration_norms`."""
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if times.ndim != 1 or times.size < 2 or not np.all(np.diff(times) != 0):
        raise DistillPlanError("times", "needs at least 2 distinct, sorted times to size the difference steps")
    gaps = np.abs(np.diff(times))
    nearest = np.minimum(np.r_[np.inf, gaps], np.r_[gaps, np.inf])
    return torch.finfo(dtype).eps ** (1.0 / 3.0) * nearest


def profile_density(kind: str, norms) -> np.ndarray:
    """The grid density ρ of a measured profile: ``norms`` for ``jacobian``, ``√norms`` for ``acceleration``
    (module docstring)."""
    kind = check_choice("profile", kind, PROFILE_KINDS, "profile kind")
    norms = np.asarray(norms, dtype=np.float64)
    if not np.all(np.isfinite(norms)) or np.any(norms < 0):
        raise DistillPlanError("norms", "a measured profile must be finite and >= 0 (the field returned NaN/inf?)")
    return norms.copy() if kind == "jacobian" else np.sqrt(norms)


# ---------------------------------------------------------------------- internals
def _power_iteration(field: VelocityField, x: torch.Tensor, t: float, start: torch.Tensor, iters: int,
                     tol: float) -> tuple[np.ndarray, np.ndarray, int]:
    def velocity(y):
        return field.velocity(y, t)

    view = (-1, *[1] * (x.dim() - 1))
    noise = _ROUNDING * torch.finfo(x.dtype).eps
    # torch.func transforms ignore the outer no_grad: it only stops a graph through the model's parameters.
    # Attention runs on the math kernel: the fused CPU kernels have no forward-mode derivative (jvp).
    with torch.no_grad(), sdpa_kernel([SDPBackend.MATH]):
        _, pullback = torch.func.vjp(velocity, x)
        u = start / _row_norms_tensor(start).clamp_min(torch.finfo(start.dtype).tiny).view(view)
        # the bookkeeping is float64 on the CPU (N numbers; float64 is missing on some devices)
        sigma = torch.zeros(x.shape[0], dtype=torch.float64)
        change = torch.full_like(sigma, np.inf)
        forward = _forward_product(velocity, x, pullback)
        for k in range(1, iters + 1):
            ju = forward(u)
            (jtju,) = pullback(ju)
            size = _row_norms_tensor(jtju)
            sigma, previous = size.cpu().to(torch.float64).sqrt(), sigma
            change, before = (sigma - previous).abs(), change
            converged = _converged(sigma, change, before, tol, noise) if k > 1 else sigma == 0
            if bool(converged.all()) or k == iters:
                break
            positive = size > 0
            u = torch.where(positive.view(view), jtju / torch.where(positive, size, 1.0).view(view), u)
    return sigma.numpy(), converged.numpy(), k


def _forward_product(velocity, x: torch.Tensor, pullback):
    """``u ↦ J u`` at ``x``: forward mode (``torch.func.jvp``) when every op of the model has a forward-mode
    derivative; otherwise the transpose of the linear pullback ``w ↦ Jᵀw`` (a vjp of the vjp, exact too),
    e.g. for diffusers' UNets, whose group norms reject the strided tangents that attention produces."""

    def by_jvp(u):
        return torch.func.jvp(velocity, (x,), (u,))[1]

    try:
        by_jvp(torch.zeros_like(x))
        return by_jvp
    except (RuntimeError, NotImplementedError):
        _, transpose = torch.func.vjp(lambda w: pullback(w)[0], torch.zeros_like(x))
        return lambda u: transpose(u)[0]


def _converged(sigma: torch.Tensor, change: torch.Tensor, before: torch.Tensor, tol: float,
               noise: float) -> torch.Tensor:
    """``δ_k ≤ tol·σ_k`` and the geometric (Aitken) tail of the remaining changes ``δ_k q/(1 − q)``,
    ``q = δ_k/δ_{k−1}``, also ``≤ tol·σ_k``; a row whose changes do not shrink (q ≥ 1) has not converged,
    unless its change is at the rounding level ``noise·σ_k``."""
    ratio = change / torch.where(before > 0, before, 1.0)
    tail = torch.where(change == 0, 0.0, torch.where(ratio < 1, change * ratio / (1 - ratio), np.inf))
    return (change <= noise * sigma) | ((change <= tol * sigma) & (tail <= tol * sigma))


def _row_norms_tensor(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x.reshape(x.shape[0], -1), dim=1)


def _row_norms(x: torch.Tensor) -> np.ndarray:
    return _row_norms_tensor(x.detach()).cpu().to(torch.float64).numpy()


def _check_profile_args(field: VelocityField, states, times) -> np.ndarray:
    _check_field_states(field, states, "states", extra_dims=1)
    times = np.atleast_1d(field.process.check_times(times, "times"))
    if times.ndim != 1 or times.size != states.shape[1]:
        raise DistillPlanError("times", f"needs one time per column of states ({states.shape[1]}), "
                                        f"got shape {times.shape}")
    return times
