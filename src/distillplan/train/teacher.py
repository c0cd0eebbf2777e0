"""The teacher: classical RK4 on the exact PF ODE ``dx/du = v(x, u)`` (paper 2, §1.6).

``Φ_{t→s}`` maps ``x_t`` to ``x_s``; sampling integrates backward (s < t). One RK4 step of size
``h = (s − t)/steps`` from ``u``:

    k1 = v(x, u),  k2 = v(x + h/2 k1, u + h/2),  k3 = v(x + h/2 k2, u + h/2),  k4 = v(x + h k3, u + h),
    x ← x + h/6 (k1 + 2 k2 + 2 k3 + k4).

Step times are computed as ``t + (s − t)·i/steps`` so the last one is exactly ``s``. Per-segment step
allocation (the authors' exp4 rule): ``steps = max(5, round(N·|Δt|/T))`` with ``N = 100`` over ``[0, T]``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..errors import DistillPlanError, check_int_at_least, check_positive
from .field import MixtureField
from .runtime import at_most_threads

__all__ = ["rk4_flow_map", "teacher_steps", "segment_teacher_steps", "DEFAULT_CHUNK_ROWS"]

DEFAULT_CHUNK_ROWS = {"full": 4096, "subspace": 8192}
CPU_THREADS = 1
"""Threads the CPU teacher uses (see :func:`~.runtime.at_most_threads`: robust to shared machines)."""
"""Rows integrated together (measured fastest on a 2-core Xeon): enough to amortise per-op overhead,
few enough to stay in cache."""


def teacher_steps(t_from: float, t_to: float, horizon: float, total_steps: int = 100, minimum: int = 5) -> int:
    """RK4 steps for one segment: ``max(minimum, round(total_steps · |t_from − t_to| / horizon))``.

    Python's ``round`` (half to even), as the authors' script; e.g. 100·0.125 = 12.5 -> 12.
    """
    horizon = check_positive("horizon", horizon)
    total_steps = check_int_at_least("total_steps", total_steps, 1)
    minimum = check_int_at_least("minimum", minimum, 1)
    return max(minimum, int(round(total_steps * abs(float(t_from) - float(t_to)) / horizon)))


def segment_teacher_steps(times: Sequence[float], horizon: float, total_steps: int = 100,
                          minimum: int = 5) -> list[int]:
    """:func:`teacher_steps` of every segment ``times[k] → times[k+1]`` of a decreasing grid.

    Example (β = 5, T = 1, σ0 = 1): the 8-segment stability grid gives ``[79, 7, 5, 5, 5, 5, 5, 5]``,
    the uniform one ``[12] * 8``.
    """
    times = np.asarray(times, dtype=np.float64)
    return [teacher_steps(a, b, horizon, total_steps, minimum) for a, b in zip(times[:-1], times[1:])]


@torch.no_grad()
def rk4_flow_map(field: MixtureField, x: torch.Tensor, t_from: float, t_to: float, steps: int,
                 chunk_rows: int | None = None, subspace: bool = True) -> torch.Tensor:
    """``Φ_{t_from → t_to}(x)`` by ``steps`` RK4 steps on the exact PF velocity; returns a new tensor.

    Args:
        field: the mixture's closed-form velocity; its dtype is the integration dtype (``x`` is cast).
        x: points at ``t_from``, shape ``(..., d)``.
        t_from, t_to: start and end times in ``[0, T]`` (``t_to < t_from`` for sampling).
        steps: number of equal RK4 steps (>= 1).
        chunk_rows: integrate this many rows at a time (None: :data:`DEFAULT_CHUNK_ROWS` on CPU, all
            rows on a GPU); changes results only by float rounding (matrix-product blocking).
        subspace: when the means span r < d dimensions, integrate ``x = Q z + x_⊥`` split as in
            :meth:`MixtureField.subspace`: RK4 on the r-dim ``z`` and the same RK4 recursion on the
            scalar linear ODE of ``x_⊥``. In exact arithmetic this *is* RK4 on the full system (RK4
            commutes with the orthogonal split because the velocity does); it costs ~r/d as much.

    On CPU it runs with at most :data:`CPU_THREADS` torch thread(s).
    """
    steps = check_int_at_least("steps", steps, 1)
    t_from, t_to = float(t_from), float(t_to)
    if not (t_from >= 0 and t_to >= 0):
        raise DistillPlanError("t_from", f"times must be >= 0, got {t_from} -> {t_to}")
    if x.shape[-1] != field.dim:
        raise DistillPlanError("x", f"must have last dimension {field.dim}, got shape {tuple(x.shape)}")
    flat = x.reshape(-1, field.dim).to(field.dtype)
    split = field.subspace() if subspace else None
    on_cpu = flat.device.type == "cpu"
    if chunk_rows is None:  # CPU: cache-sized blocks; GPU: everything at once (launch-bound otherwise)
        chunk_rows = DEFAULT_CHUNK_ROWS["full" if split is None else "subspace"] if on_cpu else max(flat.shape[0], 1)
    chunk = check_int_at_least("chunk_rows", chunk_rows, 1)
    with at_most_threads(CPU_THREADS if on_cpu else torch.get_num_threads()):
        out = _integrate(field, flat, split, t_from, t_to, steps, chunk)
    return out.reshape(x.shape)


def _integrate(field: MixtureField, flat: torch.Tensor, split, t_from: float, t_to: float, steps: int,
               chunk: int) -> torch.Tensor:
    """RK4 over the rows of ``flat`` in blocks of ``chunk``, in full or split coordinates."""
    rows = flat.shape[0]
    out = torch.empty_like(flat)
    if split is None:
        for start in range(0, rows, chunk):
            out[start:start + chunk] = _rk4_rows(field, flat[start:start + chunk], t_from, t_to, steps)
        return out
    basis, reduced = split
    factor = _rk4_linear_factor(field, t_from, t_to, steps)
    for start in range(0, rows, chunk):
        block = flat[start:start + chunk]
        z = block @ basis
        z_end = _rk4_rows(reduced, z, t_from, t_to, steps)
        # x_end = factor·x_⊥ + Q z_end = factor·x + Q (z_end − factor·z)
        torch.addmm(block, z_end.sub_(z, alpha=factor), basis.t(), beta=factor, out=out[start:start + chunk])
    return out


def _rk4_rows(field: MixtureField, x: torch.Tensor, t_from: float, t_to: float, steps: int) -> torch.Tensor:
    span = t_to - t_from
    h = span / steps
    x = x.clone()
    for i in range(steps):
        u0, u_mid, u1 = _stage_times(t_from, span, i, steps)
        k = field.velocity(x, u0)
        acc = k  # a fresh tensor, safe to accumulate into
        k = field.velocity(torch.add(x, k, alpha=0.5 * h), u_mid)
        acc.add_(k, alpha=2.0)
        k = field.velocity(torch.add(x, k, alpha=0.5 * h), u_mid)
        acc.add_(k, alpha=2.0)
        k = field.velocity(torch.add(x, k, alpha=h), u1)
        acc.add_(k)
        x.add_(acc, alpha=h / 6.0)
    return x


def _rk4_linear_factor(field: MixtureField, t_from: float, t_to: float, steps: int) -> float:
    """The RK4 recursion applied to ``y' = c(u) y`` (c = :meth:`MixtureField.linear_rate`): ``y_end / y_start``."""
    span = t_to - t_from
    h = span / steps
    factor = 1.0
    for i in range(steps):
        u0, u_mid, u1 = _stage_times(t_from, span, i, steps)
        c0, cm, c1 = field.linear_rate(u0), field.linear_rate(u_mid), field.linear_rate(u1)
        k1 = c0
        k2 = cm * (1.0 + 0.5 * h * k1)
        k3 = cm * (1.0 + 0.5 * h * k2)
        k4 = c1 * (1.0 + h * k3)
        factor *= 1.0 + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return factor


def _stage_times(t_from: float, span: float, i: int, steps: int) -> tuple[float, float, float]:
    return (t_from + span * (i / steps), t_from + span * ((i + 0.5) / steps), t_from + span * ((i + 1) / steps))
