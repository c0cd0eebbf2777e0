"""Study ``stability-grid`` (paper 2, exp4): stability-balanced vs uniform time grid for segment distillation.

The PF-ODE flow map ``Φ_{0←T}`` of the OU-evolved isotropic Gaussian mixture is distilled into a
composition ``Ψ_n ∘ … ∘ Ψ_1`` of n MLP students, one per segment of a time grid
``T = t_0 > … > t_n = 0``, under a fixed total of ``total_train_steps`` optimizer steps split
evenly (``total_train_steps // n`` per student). The stability grid puts an equal share ``A(T)/n`` of the
stability coordinate ``A(t) = ∫_0^t L`` in every segment (:func:`distillplan.mixture.stability_grid`);
the uniform grid has ``t_k = T(1 − k/n)``. Each run reports the end-to-end relMSE against a
100-step RK4 reference, the NLL of the outputs under ``p_0`` and the worst local segment relMSE
(:mod:`distillplan.flowmap.evaluate`).

Presets: ``paper`` is the authors' exp4 (d = 64, K = 20 means uniform in [−5, 5]^64 from torch
seed 0, β = 5, T = 1, σ0 = 1, ReLU MLPs of width 512 and depth 4, 100 000 total steps, batch 1024,
lr 2e−4, 50 000 eval samples, n ∈ {4, 8, 16} × {uniform, stability}, seeds 0–9; GPU-sized);
``quick`` keeps the data geometry and the students and shrinks the budgets to fit 2 CPU cores in
minutes (see :data:`QUICK_SETTINGS`).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import DistillPlanError
from ..mixture import GRID_KINDS, make_grid, mean_diameter, segment_stability
from ..runner import Study, Sweep, grid
from ._kit import (ACTIVATION, MAX_STEPS, EvaluationSpec, FlowSpec, Int, OneOf, OptimiserSpec, RuntimeSpec,
                   errorbar_figure, mlp_work, scaled_cost)

__all__ = ["StabilityGridConfig", "run", "quick", "paper", "reduction_table", "save_figures", "STUDY"]


@dataclass(frozen=True)
class StabilityGridConfig(FlowSpec, OptimiserSpec, EvaluationSpec, RuntimeSpec):
    """One (grid, n) cell of the study; every field is validated on construction.

    ``total_train_steps`` optimiser steps are split evenly over the n students (``total // n`` each);
    ``mode`` is how the n students are trained (``auto``/``batched``/``sequential``, same numbers).
    """

    segments: int = 8
    grid: str = "stability"
    width: int = 512
    depth: int = 4
    activation: str = "relu"
    total_train_steps: int = 100_000
    local_samples: int = 1024
    teacher_total_steps: int = 100
    teacher_min_steps: int = 5
    reference_steps: int = 100
    mode: str = "auto"

    RANGES: ClassVar[dict[str, Any]] = dict(
        segments=Int(1, 256), grid=OneOf(GRID_KINDS), width=Int(1, 16384), depth=Int(1, 64),
        activation=ACTIVATION, total_train_steps=Int(1, MAX_STEPS),
        local_samples=Int(1, 1_000_000), teacher_total_steps=Int(1, 100_000), teacher_min_steps=Int(1, 10_000),
        reference_steps=Int(1, 100_000), mode=OneOf("distillplan.flowmap.segments:MODES"))

    def check(self) -> None:
        if self.total_train_steps < self.segments:
            raise DistillPlanError("total_train_steps",
                                   f"must give every one of the {self.segments} segments a step, got {self.total_train_steps}")


def run(config: StabilityGridConfig, seed: int) -> list[dict]:
    """Train the n segment students of ``config`` with trial seed ``seed`` and score the composition.

    One row: ``segments, grid, seed, relmse, nll0, worst_seg_relmse`` plus ``teacher_relmse``
    (the composed segment teachers against the reference), ``local_relmse`` (per segment),
    the grid ``times``, its per-segment stability share, teacher steps, the final training
    losses and timings (``train_s``, ``eval_s``, ``steps_per_s``).
    """
    from ..flowmap import StudentSpec, eval_generator, evaluate_flow_map, local_segment_errors, train_segments

    settings = config.settings(config.total_train_steps // config.segments)
    student = StudentSpec(config.width, config.depth, config.activation)
    with config.runtime() as (device, threads):
        field = config.field(device)
        mixture, process = field.mixture, field.process
        time_grid = make_grid(config.grid, config.segments, process, mixture)
        times = time_grid.times
        result = train_segments(field, times, settings, student, seed=seed,
                                teacher_total_steps=config.teacher_total_steps,
                                teacher_min_steps=config.teacher_min_steps, mode=config.mode)
        start = time.perf_counter()
        scores = evaluate_flow_map(field, result.students, config.eval_samples,
                                   eval_generator(config.eval_seed, config.segments, config.sigma0, field.device),
                                   reference_steps=config.reference_steps, times=times,
                                   teacher_steps=result.teacher_steps)
        local = local_segment_errors(field, result.students, times, result.teacher_steps,
                                     samples=config.local_samples, seed=seed)
        eval_s = time.perf_counter() - start
    timings = result.timings
    total_student_steps = result.steps * config.segments
    return [{
        "segments": config.segments,
        "grid": config.grid,
        "seed": seed,
        "relmse": scores.relmse,
        "nll0": scores.nll0,
        "worst_seg_relmse": max(local),
        "teacher_relmse": scores.teacher_relmse,
        "local_relmse": local,
        "final_loss": result.final_loss,
        "times": [float(t) for t in times],
        "segment_stability": segment_stability(time_grid, mixture, process).tolist(),
        "teacher_steps": result.teacher_steps,
        "steps_per_segment": result.steps,
        "mean_diameter": mean_diameter(mixture.means),
        "train_s": timings.total_s,
        "teacher_s": timings.data_s,
        "eval_s": eval_s,
        "steps_per_s": total_student_steps / timings.total_s if timings.total_s > 0 else math.nan,
        "threads": threads,
        "mode": result.mode,
    }]


# ---------------------------------------------------------------------- presets
PAPER_SEEDS = tuple(range(10))
QUICK_SEEDS = (0, 1, 2)

QUICK_SETTINGS = dict(total_train_steps=8_000, batch=256, lr=2e-3, eval_samples=5_000)
"""The quick preset's departures from the paper: students, data geometry and teacher are the paper's.

Measured (seed 0, n = 8, end-to-end relMSE uniform vs stability; the reduction needs accurate
enough students: at low budgets both grids are limited by the hard segments where the mixture's
modes separate, and the grids differ less):

=====================================  ===============  ==========
width, total steps, batch, lr           uniform → stab.  reduction
=====================================  ===============  ==========
512, 8000, 256, 2e-3 (this preset)      0.322 → 0.195    40% (3 seeds: 46, 29, 43%)
512, 4000, 256, 2e-3                    0.358 → 0.252    30%
512, 8000, 256, 1e-3 (3 seeds, GPU)     0.272 → 0.196    28%
512, 8000, 512, 1e-3 (3 seeds, GPU)     0.249 → 0.179    28%
256, 8000, 256, 2e-3                    0.299 → 0.239    20%
256, 16000, 256, 1e-3 (3 seeds, GPU)    0.252 → 0.201    20%
128, 8000, 256, 1e-3                    0.396 → 0.400    −1%
512, 4000, 1024, 2e-4 (3 seeds, GPU)    0.416 → 0.370    11%
512, 100000, 1024, 2e-4 (paper, GPU)    0.086 → 0.043    50%
=====================================  ===============  ==========

One run costs ~2.8 CPU-minutes (the width-512 students dominate), so the preset keeps n = 8 only:
2 grids × 3 seeds = 6 runs: 8 min 13 s and 9 min 9 s wall in two runs (961 CPU-seconds) on 2 idle
cores (one run per core; 15.5 minutes on the same machine shared with other jobs), for relMSE
0.322 ± 0.017 → 0.195 ± 0.017. With the named random streams of the studies kit the same preset gives
0.287 ± 0.030 → 0.187 ± 0.004 (−35%, 3/3 seeds; 7 min wall on 2 shared cores).
"""


def paper() -> Sweep:
    """The authors' exp4: n ∈ {4, 8, 16} × {uniform, stability}, 10 seeds (60 runs, GPU-sized)."""
    configs = grid(StabilityGridConfig, segments=[4, 8, 16], grid=["uniform", "stability"])
    return Sweep(STUDY_NAME, configs, PAPER_SEEDS)


def quick() -> Sweep:
    """The paper's data, grids and students with a 12.5x smaller budget, n = 8, 3 seeds (6 runs).

    See :data:`QUICK_SETTINGS`; sized for 2 CPU cores (one run per core).
    """
    configs = grid(StabilityGridConfig, base=QUICK_SETTINGS, segments=[8], grid=["uniform", "stability"])
    return Sweep(STUDY_NAME, configs, QUICK_SEEDS)


# ---------------------------------------------------------------------- reports
def reduction_table(rows: list[dict]) -> dict[str, list[dict]]:
    """``reduction``: per n and non-uniform grid, relMSE mean vs uniform, the reduction % and paired wins.

    ``reduction_pct = 100 (1 − relmse_grid / relmse_uniform)`` on the means over seeds; ``wins``
    counts the seeds run on both grids where the grid's relMSE is below the uniform one's.
    """
    by_cell: dict[tuple[int, str], dict[int, dict]] = defaultdict(dict)
    for row in rows:
        by_cell[(int(row["segments"]), str(row["grid"]))][int(row["seed"])] = row
    table = []
    for (n, kind), runs in sorted(by_cell.items()):
        uniform = by_cell.get((n, "uniform"))
        if kind == "uniform" or not uniform:
            continue
        paired = sorted(set(runs) & set(uniform))
        mean = float(np.mean([r["relmse"] for r in runs.values()]))
        base = float(np.mean([r["relmse"] for r in uniform.values()]))
        table.append({
            "segments": n,
            "grid": kind,
            "relmse_mean": mean,
            "uniform_relmse_mean": base,
            "reduction_pct": 100.0 * (1.0 - mean / base),
            "nll0_mean": float(np.mean([r["nll0"] for r in runs.values()])),
            "uniform_nll0_mean": float(np.mean([r["nll0"] for r in uniform.values()])),
            "wins": sum(runs[s]["relmse"] < uniform[s]["relmse"] for s in paired),
            "paired_seeds": len(paired),
        })
    return {"reduction": table}


def save_figures(rows: list[dict], out_dir: Path) -> list[Path]:
    """``relmse_vs_segments.png``: relMSE mean ± std (over seeds) against n for each grid, log y."""
    series: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        series[str(row["grid"])][int(row["segments"])].append(float(row["relmse"]))
    path = errorbar_figure(dict(sorted(series.items())), Path(out_dir) / "relmse_vs_segments.png", xlabel="segments n",
                           ylabel="end-to-end relMSE (mean ± std)", title="stability-balanced vs uniform grid")
    return [path]


STUDY_NAME = "stability-grid"

def _work(config: StabilityGridConfig) -> float:
    """Multiply-adds of training (forward and backward ≈ 3 passes) plus the RK4 reference of the evaluation."""
    train = 3 * config.total_train_steps * config.batch * mlp_work(config.dim, config.width, config.depth)
    reference = 4 * config.reference_steps * config.eval_samples * config.dim * config.components
    return train + reference

STUDY = Study(STUDY_NAME, StabilityGridConfig, run, {"quick": quick, "paper": paper},
              group_by=("segments", "grid"), metrics=("relmse", "nll0", "worst_seg_relmse"), figures=save_figures,
              tables=reduction_table,
              description="Paper 2 exp4: stability-balanced vs uniform time grid for n-segment flow-map distillation.",
              cost=scaled_cost(_work, StabilityGridConfig(**QUICK_SETTINGS), 380), cost_basis="scaled from a measured quick-preset run on 2 shared Xeon cores")
