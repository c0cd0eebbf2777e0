"""The one training loop, for every student kind: MLPs, stacked MLPs, residual compositions, transformers,
latent denoisers, VAEs and plan-distilled stage students.

:func:`train` runs ``settings.steps`` steps of

    losses = step_loss(step)                 one loss per student, shape (n,)
    Σ losses .backward()
    g ← g · min(1, c / (||g||₂ + 1e−6))      per student, when ``grad_clip = c`` (as ``clip_grad_norm_``)
    AdamW step at lr_k                       lr_k = lr, or cosine from lr down to lr·f (``lr_floor = f``)
    W ← clamp(W, −B, B)                      every weight matrix, when ``weight_bound = B`` (biases untouched)

with ``lr_k = lr · (f + (1 − f)·½(1 + cos(π k / steps)))`` at step k. ``final_loss`` is the mean of each
student's loss over the last 10% of steps.

:func:`fit` is the regression case of paper 2's exp1–3 and of segment distillation: fresh data every
step from ``make_chunk(count) -> (inputs, targets)`` with a leading axis of ``count`` steps (samplers and
teachers run once per chunk, not once per step), loss ``mean((net(x) − y)²)`` per student. A
:class:`~.students.StackedMLP` (n independent students as one batched computation, inputs ``(count, n, B, d)``)
gets one loss, one gradient-norm clip and one tail loss per student, so it trains exactly like n separate
runs up to float rounding.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..errors import DistillPlanError, check_int_at_least, check_nonnegative, check_positive
from .optim import adamw, update_
from .students import StackedMLP

__all__ = ["TrainSettings", "FitTimings", "FitResult", "StepLoss", "ChunkMaker", "train", "fit", "RegressionLoss", "minibatches"]

_TAIL_FRACTION = 0.1  # final_loss averages the last 10% of steps
_TARGET_ROWS = {"cpu": 16384, "cuda": 262144}  # training rows per data chunk when ``chunk_steps`` is automatic


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings of one student (or of n students trained together).

    ``steps`` is per student; ``grad_clip=None`` disables the norm clip, ``weight_bound=None`` the weight
    projection, ``lr_floor=None`` the cosine decay (constant lr); ``chunk_steps=None`` generates about 16384
    training rows per data call on CPU (262144 on a GPU).
    """

    steps: int
    batch: int = 1024
    lr: float = 2e-4
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    weight_bound: float | None = None
    lr_floor: float | None = None
    chunk_steps: int | None = None

    def __post_init__(self) -> None:
        check_int_at_least("steps", self.steps, 1)
        check_int_at_least("batch", self.batch, 1)
        check_positive("lr", self.lr)
        check_nonnegative("weight_decay", self.weight_decay)
        if self.grad_clip is not None:
            check_positive("grad_clip", self.grad_clip)
        if self.weight_bound is not None:
            check_positive("weight_bound", self.weight_bound)
        if self.lr_floor is not None and not 0 <= check_nonnegative("lr_floor", self.lr_floor) <= 1:
            raise DistillPlanError("lr_floor", f"must lie in [0, 1], got {self.lr_floor!r}")
        if self.chunk_steps is not None:
            check_int_at_least("chunk_steps", self.chunk_steps, 1)

    def chunk(self, device_type: str = "cpu") -> int:
        """Training steps whose data one data call produces (automatic: ~16k rows on CPU, ~262k on GPU)."""
        if self.chunk_steps is not None:
            return min(self.chunk_steps, self.steps)
        rows = _TARGET_ROWS.get(device_type, _TARGET_ROWS["cpu"])
        return max(1, min(self.steps, rows // self.batch))

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (see the module docstring)."""
        if self.lr_floor is None:
            return self.lr
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(step / self.steps, 1.0)))
        return self.lr * (self.lr_floor + (1.0 - self.lr_floor) * cosine)


@dataclass
class FitTimings:
    """Wall seconds spent in each part of training.

    On CPU ops are synchronous, so the parts add up; on CUDA they count only the time to queue the work
    (no synchronisation per step) and only ``total_s`` is the true wall time.
    """

    data_s: float = 0.0  # producing training data (sampling, teacher targets)
    forward_backward_s: float = 0.0  # student forward, loss, backward
    update_s: float = 0.0  # grad clip, AdamW step, zero_grad, weight projection
    total_s: float = 0.0

    @property
    def other_s(self) -> float:
        return max(0.0, self.total_s - self.data_s - self.forward_backward_s - self.update_s)

    def __iadd__(self, other: "FitTimings") -> "FitTimings":
        self.data_s += other.data_s
        self.forward_backward_s += other.forward_backward_s
        self.update_s += other.update_s
        self.total_s += other.total_s
        return self


@dataclass
class FitResult:
    """Mean training loss over the last 10% of steps (one entry per student), steps and timings."""

    final_loss: list[float]
    steps: int
    timings: FitTimings = field(default_factory=FitTimings)


StepLoss = Callable[[int], torch.Tensor]
"""``step_loss(step) -> losses``: the differentiable loss of every student at ``step``, shape ``(n,)``.

It may carry a ``data_s`` attribute (seconds spent producing data so far), which :func:`train` reports."""

ChunkMaker = Callable[[int], tuple[torch.Tensor, torch.Tensor]]
"""``make_chunk(count) -> (inputs, targets)``, each with leading axis ``count``."""


def train(net: nn.Module, step_loss: StepLoss, settings: TrainSettings) -> FitResult:
    """Train ``net`` in place for ``settings.steps`` steps of ``step_loss`` (see the module docstring).

    Every parameter that requires grad is trained; a :class:`StackedMLP` is clipped per student.
    The net is left in eval mode.
    """
    _check_settings(settings)
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise DistillPlanError("net", "has no trainable parameters")
    stacked = isinstance(net, StackedMLP)
    optimizer = adamw(params, settings.lr, settings.weight_decay)
    tail_start = settings.steps - max(1, math.ceil(_TAIL_FRACTION * settings.steps))
    device = params[0].device
    tail = None
    timings = FitTimings()
    clock = time.perf_counter
    start = clock()
    net.train()
    for step in range(settings.steps):
        if settings.lr_floor is not None:
            for group in optimizer.param_groups:
                group["lr"] = settings.lr_at(step)
        t0 = clock()
        losses = step_loss(step)
        losses.sum().backward()
        t1 = clock()
        update_(optimizer, net, params, settings.grad_clip, settings.weight_bound, stacked)
        timings.forward_backward_s += t1 - t0
        timings.update_s += clock() - t1
        if step >= tail_start:
            detached = losses.detach().to(torch.float64).reshape(-1)
            tail = detached if tail is None else tail + detached
    net.eval()
    if device.type == "cuda":  # pragma: no cover - GPU only
        torch.cuda.synchronize(device)
    timings.total_s = clock() - start
    timings.data_s = float(getattr(step_loss, "data_s", 0.0))
    timings.forward_backward_s = max(0.0, timings.forward_backward_s - timings.data_s)
    return FitResult((tail / (settings.steps - tail_start)).cpu().tolist(), settings.steps, timings)


def fit(net: nn.Module, make_chunk: ChunkMaker, settings: TrainSettings) -> FitResult:
    """Regress ``net`` onto targets from ``make_chunk`` for ``settings.steps`` steps (:func:`train` of a
    :class:`RegressionLoss`). For a :class:`StackedMLP` of n students the per-step inputs have shape ``(n, B, d)``."""
    _check_settings(settings)
    device = next(net.parameters()).device
    return train(net, RegressionLoss(net, make_chunk, settings.chunk(device.type), settings.steps), settings)


def minibatches(data: torch.Tensor, batch: int, generator: torch.Generator) -> Callable[[], torch.Tensor]:
    """``draw() -> rows``: ``min(batch, len(data))`` rows of ``data`` drawn uniformly with replacement from
    ``generator`` (training on a fixed data set: images, latents)."""
    count = min(check_int_at_least("batch", batch, 1), data.shape[0])

    def draw() -> torch.Tensor:
        return data[torch.randint(0, data.shape[0], (count,), generator=generator, device=data.device)]

    return draw


def _check_settings(settings: object) -> None:
    if not isinstance(settings, TrainSettings):
        raise DistillPlanError("settings", f"must be a TrainSettings, got {type(settings).__name__}")


class RegressionLoss:
    """The step loss ``mean((net(x_k) − y_k)²)`` per student on data served ``chunk`` steps at a time.

    ``make_chunk(count)`` is called with ``count = min(chunk, steps left)``; ``data_s`` accumulates its time.
    """

    def __init__(self, net: nn.Module, make_chunk: ChunkMaker, chunk: int, steps: int):
        self.net = net
        self.make_chunk = make_chunk
        self.chunk = check_int_at_least("chunk", chunk, 1)
        self.steps = steps
        self.stacked = isinstance(net, StackedMLP)
        self.data_s = 0.0
        self._inputs = self._targets = None
        self._first = 0  # step of self._inputs[0]

    def __call__(self, step: int) -> torch.Tensor:
        if self._inputs is None or step >= self._first + self._inputs.shape[0]:
            count = min(self.chunk, self.steps - step)
            t0 = time.perf_counter()
            inputs, targets = self.make_chunk(count)
            self.data_s += time.perf_counter() - t0
            if inputs.shape[0] != count or targets.shape[0] != count:
                raise DistillPlanError("make_chunk", f"returned {inputs.shape[0]} steps of data, asked for {count}")
            self._inputs, self._targets, self._first = inputs, targets, step
        i = step - self._first
        out = self.net(self._inputs[i])
        squares = (out - self._targets[i]).square()
        if self.stacked:
            return squares.mean(dim=tuple(range(1, out.dim())))
        return squares.mean().reshape(1)
