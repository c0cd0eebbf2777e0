"""A plain regression loop on fresh synthetic data: the training recipe of paper 2's exp1–3.

Every step draws a new batch (no fixed data set), computes ``F.mse_loss`` (mean over batch and
coordinates) between the student output and the target, clips the global gradient norm
(``g ← g · min(1, c / (||g||₂ + 1e−6))``, as ``torch.nn.utils.clip_grad_norm_``), takes an AdamW step
and, with ``weight_bound = B``, projects every weight matrix onto ``[−B, B]`` (:func:`~.students.clip_weights_`,
biases untouched). The settings are a :class:`TrainSettings`.

Data come from ``make_chunk(count) -> (inputs, targets)`` with a leading axis of ``count`` steps, so
samplers and teachers run once per chunk of steps rather than once per step. A
:class:`~.students.StackedMLP` (n independent students in one batched computation, inputs
``(count, n, B, d)``) gets one loss, one gradient-norm clip and one tail loss per student, so it
trains exactly like n separate runs up to float rounding.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DistillPlanError, check_int_at_least, check_nonnegative, check_positive
from .optim import adamw, update_
from .students import StackedMLP

__all__ = ["TrainSettings", "FitResult", "fit"]

_TAIL_FRACTION = 0.1  # final_loss averages the last 10% of steps
_TARGET_ROWS = {"cpu": 16384, "cuda": 262144}  # training rows per data chunk when ``chunk_steps`` is automatic


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings shared by every student of a grid.

    ``steps`` is per student (the paper: ``total_steps // n``); ``grad_clip=None`` disables the
    norm clip, ``weight_bound=None`` the weight projection; ``chunk_steps=None`` generates about
    16384 training rows per teacher call on CPU (262144 on a GPU).
    """

    steps: int
    batch: int = 1024
    lr: float = 2e-4
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    weight_bound: float | None = None
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
        if self.chunk_steps is not None:
            check_int_at_least("chunk_steps", self.chunk_steps, 1)

    def chunk(self, device_type: str = "cpu") -> int:
        """Training steps whose data one teacher call produces (automatic: ~16k rows on CPU, ~262k on GPU)."""
        if self.chunk_steps is not None:
            return min(self.chunk_steps, self.steps)
        rows = _TARGET_ROWS.get(device_type, _TARGET_ROWS["cpu"])
        return max(1, min(self.steps, rows // self.batch))


ChunkMaker = Callable[[int], tuple[torch.Tensor, torch.Tensor]]
"""``make_chunk(count) -> (inputs, targets)``, each with leading axis ``count``."""


@dataclass
class FitResult:
    """Mean training loss over the last 10% of steps (one entry per student) and wall seconds."""

    final_loss: list[float]
    steps: int
    data_s: float = 0.0
    total_s: float = 0.0
    extra: dict = field(default_factory=dict)


def fit(net: nn.Module, make_chunk: ChunkMaker, settings: TrainSettings) -> FitResult:
    """Train ``net`` in place for ``settings.steps`` steps on batches from ``make_chunk``.

    ``settings.chunk(device)`` steps of data are requested at a time (the last may be shorter).
    For a :class:`StackedMLP` of n students the per-step inputs have shape ``(n, B, d)``.
    """
    if not isinstance(settings, TrainSettings):
        raise DistillPlanError("settings", f"must be a TrainSettings, got {type(settings).__name__}")
    stacked = isinstance(net, StackedMLP)
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise DistillPlanError("net", "has no trainable parameters")
    optimizer = adamw(params, settings.lr, settings.weight_decay)
    groups = net.n if stacked else 1
    tail_start = settings.steps - max(1, math.ceil(_TAIL_FRACTION * settings.steps))
    device = params[0].device
    chunk = settings.chunk(device.type)
    tail = torch.zeros(groups, dtype=torch.float64, device=device)
    data_s = 0.0
    start = time.perf_counter()
    net.train()
    step = 0
    while step < settings.steps:
        count = min(chunk, settings.steps - step)
        t0 = time.perf_counter()
        inputs, targets = make_chunk(count)
        data_s += time.perf_counter() - t0
        if inputs.shape[0] != count or targets.shape[0] != count:
            raise DistillPlanError("make_chunk", f"returned {inputs.shape[0]} steps of data, asked for {count}")
        for i in range(count):
            out = net(inputs[i])
            if stacked:
                per = (out - targets[i]).square().mean(dim=tuple(range(1, out.dim())))
                per.sum().backward()
            else:
                per = F.mse_loss(out, targets[i]).reshape(1)
                per.backward()
            update_(optimizer, net, params, settings.grad_clip, settings.weight_bound, stacked)
            if step >= tail_start:
                tail += per.detach().to(torch.float64)
            step += 1
    net.eval()
    if device.type == "cuda":  # pragma: no cover - GPU only
        torch.cuda.synchronize(device)
    total_s = time.perf_counter() - start
    return FitResult((tail / (settings.steps - tail_start)).cpu().tolist(), settings.steps, data_s, total_s)
