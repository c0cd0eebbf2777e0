"""The teacher: classical RK4 on the exact PF ODE ``dx/du = v(x, u)`` (paper 2, §1.6).

``Φ_{t→s}`` maps ``x_t`` to ``x_s``; sampling integrates backward (s < t). One RK4 step of size
``h = (s − t)/steps`` from ``u``:

    k1 = v(x, u),  k2 = v(x + h/2 k1, u + h/2),  k3 = v(x + h/2 k2, u + h/2),  k4 = v(x + h k3, u + h),
    x ← x + h/6 (k1 + 2 k2 + 2 k3 + k4).

Step times are ``t + (s − t)·i/steps``, the last one set to ``s`` exactly. Per-segment step
allocation (the authors' exp4 rule): ``steps = max(5, round(N·|Δt|/T))`` with ``N = 100`` over ``[0, T]``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..errors import DistillPlanError, check_choice, check_finite_array, check_int_at_least, check_positive
from ..mixture.grids import TEACHER_GRIDS, geometric_nodes, stiff_floor
from ..nn.runtime import at_most_threads
from .field import MixtureField

__all__ = ["rk4_flow_map", "rk4_nodes_map", "rk4_map", "teacher_map", "teacher_nodes", "TEACHER_GRIDS", "rk4_linear_gain",
           "rk4_linear_factor", "exact_linear_gain", "geometric_nodes", "stiff_floor", "teacher_steps",
           "segment_teacher_steps", "DEFAULT_CHUNK_ROWS", "CPU_THREADS"]

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
    return _map(field, x, _teacher_stages(field, t_from, t_to, steps), chunk_rows, subspace)


@torch.no_grad()
def rk4_nodes_map(field: MixtureField, x: torch.Tensor, nodes: Sequence[float], chunk_rows: int | None = None,
                  subspace: bool = True) -> torch.Tensor:
    """One RK4 step per interval of the monotone time ``nodes`` (e.g. :func:`geometric_nodes`).

    Same arguments and numerics as :func:`rk4_flow_map`, whose ``steps`` equal steps are the special
    case ``nodes = t_from + (t_to − t_from)·i/steps``.
    """
    return _map(field, x, _node_stages(nodes), chunk_rows, subspace)


def teacher_nodes(field: MixtureField, t_from: float, t_to: float, steps: int, grid: str = "uniform") -> np.ndarray:
    """The ``steps + 1`` RK4 step times of a teacher from ``t_from`` to ``t_to`` (one step per interval).

    ``uniform``: ``t_from + (t_to − t_from)·i/steps`` (:func:`rk4_flow_map`'s steps). ``geometric``
    (sampling direction, ``t_to < t_from``): ``np.geomspace(t_from, t_to, steps + 1)`` when ``t_to > 0``;
    when ``t_to = 0``, :func:`geometric_nodes` down to :func:`stiff_floor` of the field's ``σ0`` and ``β``.
    """
    stages = _teacher_stages(field, t_from, t_to, steps, grid)
    return np.array([u0 for u0, _, _ in stages] + [stages[-1][2]])


@torch.no_grad()
def teacher_map(field: MixtureField, x: torch.Tensor, t_from: float, t_to: float, steps: int,
                grid: str = "uniform") -> torch.Tensor:
    """The RK4 teacher ``Φ_{t_from → t_to}(x)`` on :func:`teacher_nodes` (``uniform`` is :func:`rk4_flow_map`)."""
    return _map(field, x, _teacher_stages(field, t_from, t_to, steps, grid), None, True)


def rk4_linear_gain(field: MixtureField, t_from: float, t_to: float, steps: int, grid: str = "uniform") -> float:
    """The teacher's factor on ``ẏ = c(u) y``, ``c = −β(1 − 1/s_u²)``: its exact gain orthogonal to every mean.

    The same RK4 recursion, on the same step times, that :func:`teacher_map` applies to ``x_⊥``.
    """
    return _linear_factor(field, _teacher_stages(field, t_from, t_to, steps, grid))


def rk4_linear_factor(field: MixtureField, nodes: Sequence[float]) -> float:
    """The RK4 recursion on ``y' = c(u) y`` (c = :meth:`MixtureField.linear_rate`) over ``nodes``: ``y_end / y_start``.

    This is the teacher's exact gain on directions orthogonal to every mean (float64 scalars).
    """
    return _linear_factor(field, _node_stages(nodes))


def rk4_map(field_: MixtureField, x: torch.Tensor, t_from: float, t_to: float, steps: int,
            grid: str = "uniform") -> torch.Tensor:
    """The RK4 teacher of :func:`teacher_map`, out of place: differentiable in ``x`` (no subspace split), to take
    Jacobians of the teacher map; numerically the same map."""
    for u0, um, u1 in _teacher_stages(field_, t_from, t_to, steps, grid):
        h = u1 - u0
        k1 = field_.velocity(x, u0)
        k2 = field_.velocity(x + 0.5 * h * k1, um)
        k3 = field_.velocity(x + 0.5 * h * k2, um)
        k4 = field_.velocity(x + h * k3, u1)
        x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x


def exact_linear_gain(field_: MixtureField, t_from: float, t_to: float) -> float:
    """``s_{t_to}/s_{t_from}``: the exact flow map's factor on directions orthogonal to every mean.

    There the PF ODE is linear, ``ẏ = c(u) y`` with ``c(u) = −β(1 − 1/s_u²)``. RK4 with too few steps turns
    this tiny factor into a large one when ``h·|c|`` leaves RK4's stability region near t = 0 (σ0 ≪ 1)
    (compare :func:`rk4_linear_gain`); the RK4 factor is then the teacher's dominant Lipschitz constant.
    """
    return math.sqrt(field_.variance(t_to) / field_.variance(t_from))


def _map(field: MixtureField, x: torch.Tensor, stages: list[tuple[float, float, float]], chunk_rows: int | None,
         subspace: bool) -> torch.Tensor:
    if x.shape[-1] != field.dim:
        raise DistillPlanError("x", f"must have last dimension {field.dim}, got shape {tuple(x.shape)}")
    flat = x.reshape(-1, field.dim).to(field.dtype)
    split = field.subspace() if subspace else None
    on_cpu = flat.device.type == "cpu"
    if chunk_rows is None:  # CPU: cache-sized blocks; GPU: everything at once (launch-bound otherwise)
        chunk_rows = DEFAULT_CHUNK_ROWS["full" if split is None else "subspace"] if on_cpu else max(flat.shape[0], 1)
    chunk = check_int_at_least("chunk_rows", chunk_rows, 1)
    with at_most_threads(CPU_THREADS if on_cpu else torch.get_num_threads()):
        out = _integrate(field, flat, split, stages, chunk)
    return out.reshape(x.shape)


def _integrate(field: MixtureField, flat: torch.Tensor, split, stages: list[tuple[float, float, float]],
               chunk: int) -> torch.Tensor:
    """RK4 over the rows of ``flat`` in blocks of ``chunk``, in full or split coordinates."""
    rows = flat.shape[0]
    out = torch.empty_like(flat)
    if split is None:
        for start in range(0, rows, chunk):
            out[start:start + chunk] = _rk4_rows(field, flat[start:start + chunk], stages)
        return out
    basis, reduced = split
    factor = _linear_factor(field, stages)
    for start in range(0, rows, chunk):
        block = flat[start:start + chunk]
        z = block @ basis
        z_end = _rk4_rows(reduced, z, stages)
        # x_end = factor·x_⊥ + Q z_end = factor·x + Q (z_end − factor·z)
        torch.addmm(block, z_end.sub_(z, alpha=factor), basis.t(), beta=factor, out=out[start:start + chunk])
    return out


def _rk4_rows(field: MixtureField, x: torch.Tensor, stages: list[tuple[float, float, float]]) -> torch.Tensor:
    x = x.clone()
    for u0, u_mid, u1 in stages:
        h = u1 - u0
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


def _linear_factor(field: MixtureField, stages: list[tuple[float, float, float]]) -> float:
    factor = 1.0
    for u0, u_mid, u1 in stages:
        h = u1 - u0
        c0, cm, c1 = field.linear_rate(u0), field.linear_rate(u_mid), field.linear_rate(u1)
        k1 = c0
        k2 = cm * (1.0 + 0.5 * h * k1)
        k3 = cm * (1.0 + 0.5 * h * k2)
        k4 = c1 * (1.0 + h * k3)
        factor *= 1.0 + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return factor


def _teacher_stages(field: MixtureField, t_from: float, t_to: float, steps: int,
                    grid: str = "uniform") -> list[tuple[float, float, float]]:
    """``(u0, u_mid, u1)`` of every RK4 step of a teacher (see :func:`teacher_nodes`), validated."""
    steps = check_int_at_least("steps", steps, 1)
    t_from, t_to = float(t_from), float(t_to)
    check_choice("grid", grid, TEACHER_GRIDS, "teacher grid")
    if not (t_from >= 0 and t_to >= 0):
        raise DistillPlanError("t_from", f"times must be >= 0, got {t_from} -> {t_to}")
    if grid == "uniform":
        return _uniform_stages(t_from, t_to, steps)
    if not t_to < t_from:
        raise DistillPlanError("grid", f"a geometric teacher runs from t_from > t_to >= 0, got {t_from} -> {t_to}")
    if t_to > 0.0:
        return _node_stages(np.geomspace(t_from, t_to, steps + 1))
    if steps < 2:
        raise DistillPlanError("steps", f"a geometric teacher down to t = 0 needs >= 2 steps, got {steps}")
    sigma0 = math.sqrt(field.variance(0.0))
    return _node_stages(geometric_nodes(t_from, steps, stiff_floor(sigma0, field.beta, t_from)))


def _uniform_stages(t_from: float, t_to: float, steps: int) -> list[tuple[float, float, float]]:
    """``(u, u + h/2, u + h)`` of ``steps`` equal steps, times as ``t + span·i/steps``; the last ends at ``t_to``."""
    span = t_to - t_from
    stages = [(t_from + span * (i / steps), t_from + span * ((i + 0.5) / steps), t_from + span * ((i + 1) / steps))
              for i in range(steps)]
    u0, u_mid, _ = stages[-1]
    stages[-1] = (u0, u_mid, t_to)  # t_from + (t_to − t_from) can miss t_to by an ulp
    return stages


def _node_stages(nodes: Sequence[float]) -> list[tuple[float, float, float]]:
    times = check_finite_array("nodes", nodes)
    if times.size < 2:
        raise DistillPlanError("nodes", f"needs at least 2 times, got {times.size}")
    if np.any(times < 0):
        raise DistillPlanError("nodes", f"times must be >= 0, got min {times.min():g}")
    steps = np.diff(times)
    if not (np.all(steps < 0) or np.all(steps > 0)):
        raise DistillPlanError("nodes", "must be strictly monotone")
    return [(float(a), float(0.5 * (a + b)), float(b)) for a, b in zip(times[:-1], times[1:])]
