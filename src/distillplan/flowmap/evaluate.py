"""Evaluating a composition of segment students against the fine teacher (paper 2, exp4 metrics).

* end-to-end: ``x_T ~ p_T`` from a deterministic eval generator, ``ŷ = Ψ_n ∘ … ∘ Ψ_1(x_T)``,
  reference ``y`` = RK4 with ``reference_steps`` (100) uniform steps ``T → 0``;
  ``relmse = Σ_i ||ŷ_i − y_i||² / Σ_i ||y_i||²`` (a ratio of sums) and
  ``nll0 = −mean_i log p_0(ŷ_i)`` (nats, float64);
* the same relMSE for the composition of the per-segment teachers (``teacher_relmse``: what
  perfect students would score against this reference);
* local: for each segment, 1024 fresh ``x ~ p_{t_{k−1}}``, target the teacher with
  ``max(20, steps_k)`` RK4 steps, ``relmse_k`` of the student alone; ``worst_seg_relmse = max_k``.

All of it runs in batches of ``batch_rows`` rows with float64 accumulators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import DistillPlanError, check_int_at_least
from ..nn.metrics import relative_mse, squared_error_sums
from ..nn.streams import make_generator
from .field import MixtureField
from .teacher import rk4_flow_map

__all__ = [
    "relative_mse",  # re-exported from distillplan.nn.metrics
    "compose",
    "FlowMapScores",
    "evaluate_flow_map",
    "local_segment_errors",
    "eval_generator",
]


@torch.no_grad()
def compose(students: Sequence[torch.nn.Module], x: torch.Tensor) -> torch.Tensor:
    """``Ψ_n ∘ … ∘ Ψ_1 (x)``: apply the students in segment order (noise to data)."""
    for student in students:
        x = student(x)
    return x


@dataclass(frozen=True)
class FlowMapScores:
    """End-to-end scores of a composition (see the module docstring)."""

    relmse: float
    nll0: float
    teacher_relmse: float | None
    samples: int


@torch.no_grad()
def evaluate_flow_map(field_: MixtureField, students: Sequence[torch.nn.Module], samples: int,
                      generator: torch.Generator, reference_steps: int = 100, batch_rows: int = 8192,
                      times: Sequence[float] | None = None, teacher_steps: Sequence[int] | None = None
                      ) -> FlowMapScores:
    """relMSE and NLL under ``p_0`` of ``compose(students)`` on ``samples`` draws of ``p_T``.

    With ``times`` and ``teacher_steps`` (the segment grid and RK4 steps), also the relMSE of the
    composed segment teachers against the same reference.
    """
    samples = check_int_at_least("samples", samples, 1)
    reference_steps = check_int_at_least("reference_steps", reference_steps, 1)
    batch_rows = check_int_at_least("batch_rows", batch_rows, 1)
    with_teacher = times is not None and teacher_steps is not None
    if with_teacher and len(teacher_steps) != len(times) - 1:
        raise DistillPlanError("teacher_steps", f"needs one entry per segment ({len(times) - 1}), got {len(teacher_steps)}")
    nll_field = field_.to(torch.float64)
    err = norm = nll = teacher_err = 0.0
    all_x_T = field_.sample(field_.horizon, samples, generator)  # one draw: independent of batch_rows
    for done in range(0, samples, batch_rows):
        x_T = all_x_T[done:done + batch_rows]
        ref = rk4_flow_map(field_, x_T, field_.horizon, 0.0, reference_steps)
        pred = compose(students, x_T)
        e, r = squared_error_sums(pred, ref)
        err, norm = err + float(e), norm + float(r)
        nll -= float(nll_field.log_density(pred.to(torch.float64), 0.0).sum())
        if with_teacher:
            y = x_T
            for k, steps in enumerate(teacher_steps):
                y = rk4_flow_map(field_, y, float(times[k]), float(times[k + 1]), steps)
            teacher_err += float(squared_error_sums(y, ref)[0])
    return FlowMapScores(err / norm, nll / samples, teacher_err / norm if with_teacher else None, samples)


@torch.no_grad()
def local_segment_errors(field_: MixtureField, students: Sequence[torch.nn.Module], times: Sequence[float],
                         teacher_steps: Sequence[int], samples: int = 1024, seed: int = 0,
                         min_teacher_steps: int = 20) -> list[float]:
    """Per-segment relMSE of student k alone on ``samples`` fresh ``x ~ p_{t_{k−1}}``.

    Targets: teacher RK4 with ``max(min_teacher_steps, teacher_steps[k])`` steps; samples of
    segment k come from stream ``("local-eval", seed, k)``.
    """
    samples = check_int_at_least("samples", samples, 1)
    times = np.asarray(times, dtype=np.float64)
    if not (len(students) == len(teacher_steps) == times.size - 1):
        raise DistillPlanError("students", f"need one student and one step count per segment ({times.size - 1})")
    out = []
    for k, student in enumerate(students):
        gen = make_generator("local-eval", seed, k, device=field_.device)
        x = field_.sample(float(times[k]), samples, gen)
        y = rk4_flow_map(field_, x, float(times[k]), float(times[k + 1]), max(min_teacher_steps, teacher_steps[k]))
        out.append(relative_mse(student(x), y))
    return out


def eval_generator(eval_seed: int, segments: int, sigma0: float, device: str | torch.device = "cpu") -> torch.Generator:
    """The evaluation stream ``("eval", eval_seed, n, round(σ0·1e9))``: it does not depend on the trial seed.

    So both grids at the same n are scored on the same ``x_T`` (a paired comparison).
    """
    return make_generator("eval", eval_seed, segments, int(round(sigma0 * 1e9)), device=device)
