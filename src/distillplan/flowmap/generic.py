"""Segment distillation of any probability-flow field from a :class:`~.pool.TeacherPool` (paper 2, exp4 generalised).

:func:`~.segments.train_segments` draws fresh exact samples and runs the exact mixture's RK4 teacher every
chunk; a real field (a UNet) is far too expensive for that, so here the teacher has run once into a pool and
student k of a strictly decreasing grid ``t_0 > t_1 > … > t_n`` regresses the pool's state at ``t_{k+1}``
on its state at ``t_k`` (both read with :meth:`~.pool.TeacherPool.states_at`, flattened to rows of
``d = numel`` entries). Every step draws ``settings.batch`` rows with replacement from the fixed pool
(:func:`~distillplan.nn.fit.minibatches`, stream ``("data", seed, k)``); initial weights come from stream
``("init", seed, k)``. Loss, optimiser, clipping and weight projection are those of
:func:`~distillplan.nn.fit.fit`; the students are trained one after another in float32.

The pool is finite: with ``samples`` trajectories each student sees the same ``samples`` pairs over and
over, so its held-out error is bounded below by the pool size, not only by ``settings.steps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import torch

from ..errors import DistillPlanError, check_int_at_least
from ..nn.fit import FitTimings, TrainSettings, fit, minibatches
from ..nn.streams import make_generator
from ..nn.students import MLP
from .pool import TeacherPool
from .segments import StudentSpec, TrainResult

__all__ = ["compose_flat", "distill_segments", "pool_segment_steps"]

_DEFAULT_STUDENT = StudentSpec()


def distill_segments(pool: TeacherPool, times: Sequence[float], settings: TrainSettings,
                     student: StudentSpec = _DEFAULT_STUDENT, seed: int = 0,
                     device: str | torch.device | None = None) -> TrainResult:
    """Train one student per segment ``times[k] → times[k+1]`` of the decreasing grid ``times`` on ``pool``.

    ``device`` (default: the pool's) is where students and the two slices of training rows live; only
    ``2 · samples · d`` floats per segment are moved there, never the whole pool. The result's
    ``teacher_steps`` counts the pool's RK4 steps inside each segment (:func:`pool_segment_steps`) and its
    ``mode`` is ``"sequential"``.
    """
    if not isinstance(pool, TeacherPool):
        raise DistillPlanError("pool", f"must be a TeacherPool, got {type(pool).__name__}")
    if not isinstance(settings, TrainSettings):
        raise DistillPlanError("settings", f"must be a TrainSettings, got {type(settings).__name__}")
    if not isinstance(student, StudentSpec):
        raise DistillPlanError("student", f"must be a StudentSpec, got {type(student).__name__}")
    seed = check_int_at_least("seed", seed, 0)
    times = check_grid(pool, times)
    device = pool.device if device is None else torch.device(device)
    dim = pool.numel
    students, losses = [], []
    timings = FitTimings()
    target = _rows(pool, times[0], device)
    for k in range(times.size - 1):
        inputs, target = target, _rows(pool, times[k + 1], device)
        draw = minibatches(torch.cat([inputs, target], dim=1), settings.batch,
                           make_generator("data", seed, k, device=device))

        def make_chunk(count: int, draw=draw) -> tuple[torch.Tensor, torch.Tensor]:
            pairs = torch.stack([draw() for _ in range(count)])  # (count, B, 2d)
            return pairs[..., :dim], pairs[..., dim:]

        net = MLP(dim, student.width, student.depth, student.activation,
                  generator=make_generator("init", seed, k)).to(device)  # CPU stream: same weights on every device
        result = fit(net, make_chunk, settings)
        timings += result.timings
        losses += result.final_loss
        net.requires_grad_(False)
        students.append(net)
    return TrainResult(students, losses, pool_segment_steps(pool, times), settings.steps, "sequential", timings)


@torch.no_grad()
def compose_flat(students: Sequence[torch.nn.Module], noise: torch.Tensor) -> torch.Tensor:
    """Apply ``students`` in segment order (noise to data) to the rows of ``noise`` ``(n, *shape)`` flattened to
    ``(n, d)``, and reshape back: a tensor of ``noise``'s shape, dtype and device."""
    if len(students) == 0:
        raise DistillPlanError("students", "need at least one student")
    if not isinstance(noise, torch.Tensor) or noise.dim() < 2 or noise.shape[0] < 1:
        raise DistillPlanError("noise", f"must be a tensor of shape (n, *shape), got "
                                        f"{tuple(noise.shape) if isinstance(noise, torch.Tensor) else type(noise).__name__}")
    first = next(students[0].parameters())
    x = noise.reshape(noise.shape[0], -1).to(device=first.device, dtype=first.dtype)
    for net in students:
        x = net(x)
    if x.shape != (noise.shape[0], noise[0].numel()):
        raise DistillPlanError("students", f"map rows of {noise[0].numel()} entries to {tuple(x.shape[1:])}")
    return x.reshape(noise.shape).to(device=noise.device, dtype=noise.dtype)


def check_grid(pool: TeacherPool, times: Sequence[float]) -> np.ndarray:
    """``times`` as float64: a 1-d grid of at least 2 finite, strictly decreasing times inside the pool's span."""
    values = np.asarray(getattr(times, "times", times), dtype=np.float64)
    if values.ndim != 1 or values.size < 2:
        raise DistillPlanError("times", f"must be a 1-d grid with at least 2 points, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(np.diff(values) >= 0):
        raise DistillPlanError("times", "must be finite and strictly decreasing (noise to data)")
    try:
        values = np.array([pool.check_time(t, "times") for t in values])
    except DistillPlanError:
        raise DistillPlanError("times", f"must lie in the pool's span [{pool.t_min:g}, {pool.horizon:g}], "
                                        f"got [{values[-1]:g}, {values[0]:g}]") from None
    return values


def pool_segment_steps(pool: TeacherPool, times: Sequence[float]) -> list[int]:
    """RK4 steps of the pool's teacher inside each segment: ``substeps`` × the pool intervals it overlaps."""
    times = check_grid(pool, times)
    upper, lower = pool.times[:-1], pool.times[1:]  # interval j = [lower[j], upper[j]]
    return [int(pool.substeps * np.count_nonzero((lower < a) & (upper > b))) for a, b in pairwise(times)]


def _rows(pool: TeacherPool, t: float, device: torch.device) -> torch.Tensor:
    """The pool's states at ``t`` as float32 rows ``(samples, d)`` on ``device``."""
    return pool.states_at(t).reshape(pool.samples, -1).to(device=device, dtype=torch.float32)
