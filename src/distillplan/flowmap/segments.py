"""Segment distillation: one student per segment ``t_{k−1} → t_k`` of a decreasing time grid (paper 2, exp4).

Student k learns the teacher map ``Φ_{t_{k−1} → t_k}`` (RK4, :mod:`.teacher`) from fresh exact
samples ``x ~ p_{t_{k−1}}`` at every step, loss ``F.mse_loss`` (mean over batch and coordinates),
AdamW with a global gradient-norm clip per student (``g ← g · min(1, c / (||g||₂ + 1e−6))``, as
``torch.nn.utils.clip_grad_norm_``) and an optional projection of every weight onto ``[−B, B]``
after each step.

Lean by construction:

* training pairs are produced in chunks of many steps at once (one sampling call and one batched
  RK4 integration per chunk), never per sample;
* the n students of a grid can be trained as one :class:`~.students.StackedMLP` (``mode="batched"``:
  one ``baddbmm`` per layer for all students) or one after another (``mode="sequential"``). Both
  draw identical data and initial weights (each student has its own generators, see
  :mod:`.seeding`) and agree up to float rounding. ``mode="auto"`` picks :data:`DEFAULT_MODE` for
  the device, the faster one measured:

  - CPU, sequential: never slower in the reference benchmark (n = 8, width 512, batch 1024, 2
    threads): 25.44 vs 25.41 student steps/s on the 2-core Xeon (torch 2.13, 4000 steps), 26.9
    vs 15.4 on 2 pinned cores of another Xeon (torch 2.11, 480 steps). The GEMMs are already
    large enough for MKL, and batched GEMMs with transposed stacked weights gain nothing;
  - CUDA: batched, by reasoning rather than a measurement of both (per-student kernels at these
    sizes are launch-bound, and one launch serves all n); with it the paper preset's six
    (n, grid) cells of one seed took 211 s on an H100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..errors import DistillPlanError, check_int_at_least
from ..nn.fit import FitTimings, TrainSettings, fit
from ..nn.runtime import at_most_threads
from ..nn.streams import make_generator
from ..nn.students import ACTIVATIONS, MLP, StackedMLP
from .field import MixtureField
from .teacher import CPU_THREADS, rk4_flow_map, segment_teacher_steps

__all__ = ["MODES", "DEFAULT_MODE", "StudentSpec", "TrainResult", "train_segments"]

MODES = ("auto", "batched", "sequential")
DEFAULT_MODE = {"cpu": "sequential", "cuda": "batched"}
"""What ``mode="auto"`` means on each device type (measured, see the module docstring); others: sequential."""



@dataclass(frozen=True)
class StudentSpec:
    """Architecture of every segment student: an MLP ``R^d → R^d`` (see :class:`~.students.MLP`)."""

    width: int = 512
    depth: int = 4
    activation: str = "relu"

    def __post_init__(self) -> None:
        check_int_at_least("width", self.width, 1)
        check_int_at_least("depth", self.depth, 1)
        if self.activation not in ACTIVATIONS:
            raise DistillPlanError("activation", f"unknown activation {self.activation!r}; choose from {list(ACTIVATIONS)}")


@dataclass
class TrainResult:
    """Trained students (segment order, noise to data), their final losses and where the time went."""

    students: list[MLP]
    final_loss: list[float]
    teacher_steps: list[int]
    steps: int
    mode: str
    timings: FitTimings = field(default_factory=FitTimings)


def train_segments(field_: MixtureField, times: Sequence[float], settings: TrainSettings,
                   student: StudentSpec = StudentSpec(), seed: int = 0, teacher_total_steps: int = 100,
                   teacher_min_steps: int = 5, mode: str = "auto") -> TrainResult:
    """Train one student per segment ``times[k] → times[k+1]`` of the decreasing grid ``times``.

    Student k's initial weights come from stream ``("init", seed, k)`` and its data from
    ``("data", seed, k)``, so results do not depend on ``mode``. Teacher steps per segment:
    ``max(teacher_min_steps, round(teacher_total_steps·|Δt|/T))``.
    """
    if not isinstance(field_, MixtureField):
        raise DistillPlanError("field", f"must be a MixtureField, got {type(field_).__name__}")
    if field_.dtype != torch.float32:
        raise DistillPlanError("field", f"training runs in float32; got a {field_.dtype} field")
    if mode not in MODES:
        raise DistillPlanError("mode", f"must be one of {list(MODES)}, got {mode!r}")
    times = _check_times(times, field_.horizon)
    seed = check_int_at_least("seed", seed, 0)
    n = len(times) - 1
    steps_per_segment = segment_teacher_steps(times, field_.horizon, teacher_total_steps, teacher_min_steps)
    device = field_.device
    jobs = [_Segment(float(times[k]), float(times[k + 1]), steps_per_segment[k],
                     make_generator("data", seed, k, device=device)) for k in range(n)]
    init = [make_generator("init", seed, k) for k in range(n)]  # CPU: same weights on every device
    if mode == "auto":
        mode = DEFAULT_MODE.get(device.type, "sequential")
    timings = FitTimings()
    if mode == "batched":
        net = StackedMLP(n, field_.dim, student.width, student.depth, student.activation, generators=init)
        losses = _train(net.to(device), field_, jobs, settings, timings)
        students = [s.to(device) for s in net.cpu().unstack()]
    else:
        students, losses = [], []
        for k in range(n):
            net = MLP(field_.dim, student.width, student.depth, student.activation, generator=init[k]).to(device)
            losses += _train(net, field_, jobs[k:k + 1], settings, timings)
            students.append(net)
    for net in students:
        net.requires_grad_(False)
    return TrainResult(students, losses, steps_per_segment, settings.steps, mode, timings)


# ---------------------------------------------------------------------- internals
@dataclass
class _Segment:
    t_from: float
    t_to: float
    teacher_steps: int
    generator: torch.Generator


def _train(net: torch.nn.Module, field_: MixtureField, jobs: list[_Segment], settings: TrainSettings,
           timings: FitTimings) -> list[float]:
    """Train ``net`` (an MLP for one job, a StackedMLP for several) with :func:`~distillplan.nn.fit.fit`."""
    single = len(jobs) == 1 and not isinstance(net, StackedMLP)

    def make_chunk(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, targets = _make_chunk(field_, jobs, count, settings.batch)  # (count, n, B, d)
        return (inputs[:, 0], targets[:, 0]) if single else (inputs, targets)

    result = fit(net, make_chunk, settings)
    timings += result.timings
    return result.final_loss


@torch.no_grad()
def _make_chunk(field_: MixtureField, jobs: list[_Segment], count: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``x ~ p_{t_from}`` and teacher targets for ``count`` steps of every job: ``(count, n, B, d)``."""
    n, dim = len(jobs), field_.dim
    inputs = torch.empty(count, n, batch, dim, dtype=field_.dtype, device=field_.device)
    targets = torch.empty_like(inputs)
    with at_most_threads(CPU_THREADS if field_.device.type == "cpu" else torch.get_num_threads()):
        for k, job in enumerate(jobs):
            x = field_.sample(job.t_from, count * batch, job.generator)
            inputs[:, k] = x.view(count, batch, dim)
            targets[:, k] = rk4_flow_map(field_, x, job.t_from, job.t_to, job.teacher_steps).view(count, batch, dim)
    return inputs, targets


def _check_times(times: Sequence[float], horizon: float) -> np.ndarray:
    values = np.asarray(getattr(times, "times", times), dtype=np.float64)
    if values.ndim != 1 or values.size < 2:
        raise DistillPlanError("times", f"must be a 1-d grid with at least 2 points, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(np.diff(values) >= 0):
        raise DistillPlanError("times", "must be finite and strictly decreasing (noise to data)")
    if values[-1] < 0 or values[0] > horizon * (1 + 1e-12):
        raise DistillPlanError("times", f"must lie in [0, horizon={horizon:g}], got [{values[-1]:g}, {values[0]:g}]")
    return values
