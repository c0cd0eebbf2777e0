"""Probability-flow trajectories from noise to data, recorded at the profile times.

**Profile times** (:func:`profile_times`): ``M`` points uniform in the profile coordinate ``w`` of
:mod:`.coordinate` — uniform in log-SNR inside EDM's noise range σ/α ∈ [0.002, 80], softly saturated beyond
it so that an end with infinite log-SNR (OU at ``t_min = 0``: σ = 0, λ = +∞; rectified flow at horizon 1:
α = 0, λ = −∞) is reached at a finite ``w``. The first time is exactly ``horizon``, the last exactly ``t_min``.

**Solver** (:func:`walk`, :func:`pf_trajectories`): the classical fourth-order Runge–Kutta method
(:data:`SOLVER_ORDER` = 4) on ``dx/dt = v(x, t)`` from ``t = horizon`` down to ``t = t_min``, with ``substeps``
steps between consecutive profile times placed uniformly in ``w``. Steps uniform in ``w`` are geometric in
``t`` where the log-SNR is ``−ln t`` + const (the OU data side), which keeps ``h·||∂v/∂x||`` bounded as the
velocity stiffens toward ``t_min``. Every step is batched over the trajectories (rows are independent),
runs under ``torch.no_grad`` in the field's dtype and device, and costs 4 velocity evaluations.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from ..errors import DistillPlanError, check_int_range, check_seed
from ..models.field import VelocityField
from ..nn.streams import make_generator
from .coordinate import ProfileCoordinate

__all__ = ["SOLVER_ORDER", "DEFAULT_SUBSTEPS", "SUBSTEPS_RANGE", "profile_times", "draw_noise", "step_times", "walk",
           "pf_trajectories"]

SOLVER_ORDER = 4
"""Order of the trajectory solver (classical RK4)."""
DEFAULT_SUBSTEPS = 2
"""RK4 steps between consecutive profile times."""
SUBSTEPS_RANGE = (1, 64)
"""Allowed ``substeps``."""


def profile_times(process, points: int) -> np.ndarray:
    """``points`` profile times, strictly decreasing from exactly ``horizon`` to exactly ``t_min`` (module
    docstring)."""
    return ProfileCoordinate.of(process).nodes(points)[0]


def draw_noise(field: VelocityField, samples: int, seed: int = 0) -> torch.Tensor:
    """``samples`` noise-side draws ``field.prior`` from the stream ``("noise", seed, "calibrate")``."""
    samples = check_int_range("samples", samples, 1, 2**31 - 1)
    return field.prior(samples, make_generator("noise", check_seed("seed", seed), "calibrate"))


def step_times(process, times, substeps: int = DEFAULT_SUBSTEPS) -> np.ndarray:
    """Solver step times, shape ``(M − 1, substeps + 1)``: row j runs from ``times[j]`` to ``times[j + 1]``
    (both exact) through ``substeps − 1`` interior times uniform in the profile coordinate ``w``."""
    substeps = check_int_range("substeps", substeps, *SUBSTEPS_RANGE)
    times = _check_decreasing(process, times)
    coordinate = ProfileCoordinate.of(process)
    w = coordinate.of_time(times)
    out = np.empty((times.size - 1, substeps + 1))
    out[:, 0], out[:, -1] = times[:-1], times[1:]
    if substeps > 1:
        frac = np.arange(1, substeps) / substeps
        inner = coordinate.time_of((w[:-1, None] + frac[None, :] * np.diff(w)[:, None]).ravel())
        out[:, 1:-1] = inner.reshape(times.size - 1, substeps - 1)
    if not np.all(np.diff(out, axis=1) < 0):
        raise DistillPlanError("substeps", f"{substeps} substeps place two solver times at the same float64 time")
    return out


@torch.no_grad()
def walk(field: VelocityField, x: torch.Tensor, times, substeps: int = DEFAULT_SUBSTEPS
         ) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(j, x(times[j]))`` for j = 0..M−1, integrating from ``x = x(times[0])`` with RK4 between the
    yields; ``times`` strictly decreasing (usually :func:`profile_times`). The state is advanced only when the
    caller asks for the next point, so a profile can be measured at each time without storing all states."""
    _check_field_states(field, x, "x")
    grid = step_times(field.process, times, substeps)
    yield 0, x
    for j in range(grid.shape[0]):
        for t0, t1 in zip(grid[j, :-1].tolist(), grid[j, 1:].tolist()):
            x = _rk4_step(field, x, t0, t1)
        yield j + 1, x


def pf_trajectories(field: VelocityField, noise: torch.Tensor, times, substeps: int = DEFAULT_SUBSTEPS
                    ) -> torch.Tensor:
    """States ``(N, M, *shape)`` at ``times`` of the trajectories starting from ``noise`` (``(N, *shape)``) at
    ``times[0]``; see :func:`walk`. Holds all ``N·M`` states: for long profiles iterate :func:`walk` instead."""
    states = [x for _, x in walk(field, noise, times, substeps)]
    return torch.stack(states, dim=1)


def _rk4_step(field: VelocityField, x: torch.Tensor, t0: float, t1: float) -> torch.Tensor:
    """One classical RK4 step of ``dx/dt = v(x, t)`` from ``t0`` to ``t1`` (``h = t1 − t0 < 0``)."""
    h = t1 - t0
    mid = t0 + 0.5 * h
    k1 = field.velocity(x, t0)
    k2 = field.velocity(x + (0.5 * h) * k1, mid)
    k3 = field.velocity(x + (0.5 * h) * k2, mid)
    k4 = field.velocity(x + h * k3, t1)
    return x + (h / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)


def _check_decreasing(process, times) -> np.ndarray:
    times = np.atleast_1d(process.check_times(times, "times"))
    if times.ndim != 1 or times.size < 2 or not np.all(np.diff(times) < 0):
        raise DistillPlanError("times", "must be a 1-d array of at least 2 strictly decreasing times")
    return times


def _check_field_states(field: VelocityField, x, name: str, extra_dims: int = 0) -> None:
    """``field`` is a :class:`VelocityField` and ``x`` a tensor of shape ``(N, [M,] *field.shape)``."""
    if not isinstance(field, VelocityField):
        raise DistillPlanError("field", f"must be a VelocityField, got {type(field).__name__}")
    if not isinstance(x, torch.Tensor):
        raise DistillPlanError(name, f"must be a torch.Tensor, got {type(x).__name__}")
    lead = 1 + extra_dims
    if x.dim() != lead + len(field.shape) or tuple(x.shape[lead:]) != tuple(field.shape) or x.shape[0] < 1:
        want = "(N, M, " if extra_dims else "(N, "
        raise DistillPlanError(name, f"must have shape {want}{', '.join(map(str, field.shape))}), "
                                     f"got {tuple(x.shape)}")
