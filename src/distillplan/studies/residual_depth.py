"""Study ``residual-depth`` (paper 2, exp3): the full-horizon map ``Φ_{0←T}`` vs number of blocks.

A single student maps ``x_T ~ p_T`` to the teacher's ``x_0`` (σ0 = 1e−3 by default), trained on fresh
samples every step. Two architectures of L blocks (:mod:`distillplan.nn.residual`):

* ``resnet``: the residual composition (Definition 10) ``x ← x + α v_k(x)``, ``α = −T/L``,
  ``v_k(x) = −β(x + s_k(x))``, each ``s_k`` its own ReLU MLP (inner depth 2, width 128, no time);
* ``transformer``: the 64 coordinates as scalar tokens, ``Linear(1→128)`` + learned positional
  embedding, L pre-LN blocks (4-head self-attention, GELU MLP ×4), ``Linear(128→1)``.

Two teachers (``teacher_grid``), both ``teacher_steps`` = 100 RK4 steps from T to 0
(:func:`distillplan.flowmap.teacher_nodes`):

* ``uniform``: the paper's equal steps. At σ0 = 1e−3 this is far from the exact flow map: its last
  step crosses ``t → 0`` where ``h·β/s_t²`` leaves RK4's stability region, so on directions orthogonal
  to every mean it multiplies by ≈ −995 instead of the exact ``σ0/s_T ≈ 1e−3`` and its outputs have RMS
  norm ≈ 8e3 instead of ≈ 24 (rows: ``teacher_gain``, ``exact_gain``, ``teacher_rms``, ``exact_rms``).
  About 93% of that target's energy is an affine function of ``x_T``: the best affine map scores
  relMSE ≈ 0.067 (``affine_relmse``), and the paper's L = 1 transformer (0.071) sits at that floor.
* ``geometric``: steps geometric in t down to ``10⁻²·σ0²/(2β)`` and one step to 0
  (:func:`~distillplan.mixture.geometric_nodes`), which stays stable through the stiff end: its gain is
  the exact one to 1e−3 and every output lies on a mode. This is the map the residual-composition theory
  is about: nearly piecewise constant (each ``x_T`` goes to the mode whose basin holds it), so the best
  affine map is poor (relMSE ≈ 0.73) and a student must resolve the basins.

Metric: relative MSE of the map (ratio of sums) over ``eval_samples`` draws of ``p_T`` from an
evaluation stream shared by every config and seed (a paired comparison across L and architecture).

Presets: ``paper`` is the published exp3 (d = 64, K = 20 fixed means from seed 0, β = 5, T = 1, the
uniform teacher, 20 000 steps, batch 1024, lr 2e−4, clip 1.0, 50 000 eval samples, L ∈ {1, 2, 4, 8, 16}
× both architectures, seeds 0–9); add ``--set teacher_grid=geometric`` for the accurate target.
``quick`` shrinks steps, batch and evaluation (:data:`QUICK_SETTINGS`) and runs the residual
composition on the geometric teacher at every L, on the paper's teacher at L ∈ {1, 4, 16}, and a
d_model-32 transformer on the paper's teacher at L ∈ {1, 2, 4} (:data:`QUICK_TRANSFORMER`); 2 seeds.

Measured, ``quick`` on 2 idle cores: 6 min 24 s wall, 759 CPU-seconds (22 runs). relMSE mean ± std (with the
named random streams of the studies kit: resnet/geometric 0.513, 0.511, 0.381, 0.290, 0.296 for L = 1 … 16;
resnet/uniform 0.128, 0.263, 0.324; transformer 0.076, 0.078, 0.078; the same trends):

=====  ==================  ==================  ===================
L      resnet, geometric   resnet, uniform     transformer, uniform
=====  ==================  ==================  ===================
1      0.525 ± 0.006       0.133 ± 0.005       0.0745 ± 0.0015
2      0.520 ± 0.015                           0.0772 ± 0.0031
4      0.411 ± 0.010       0.270 ± 0.003       0.0786 ± 0.0040
8      0.303 ± 0.002
16     0.269 ± 0.005       0.338 ± 0.001
floor  0.729 (affine)      0.0669 (affine)     0.0669 (affine)
=====  ==================  ==================  ===================

On the accurate flow map more residual blocks lower the error (0.525 → 0.269 from L = 1 to 16), the
paper's claim. On the paper's unstable teacher the trend reverses at this budget, and L ≥ 4 stays above
the affine floor. It is not the teacher's spurious linear part: on directions orthogonal to the means
every depth learns the −995 gain at the same pace (measured on trained students: 6, 26, 79 at
initialisation for L = 1, 4, 16; −418, −591, −564 after 1000 steps; −938, −908, −892 after 4000). The
deeper compositions converge more slowly on the rest of the map (an 8000-step probe gave
0.075/0.174/0.264 at L = 1/4/16, still falling); we have not resolved that part further. The small
transformer sits at the affine floor for L ≤ 4, as the paper's does (0.071, 0.070, 0.067); the
paper's gains appear only at L = 8 and 16 with 20 000 steps, which the quick preset cannot afford.
Paper cells on an H100 (seed 0): transformer L = 1 gave 0.0710 (published 0.0710) in 94 s, residual
L = 1 gave 0.0657 in 39 s.
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
from ..mixture import TEACHER_GRIDS, cumulative_stability, mean_diameter
from ..runner import Study, Sweep, grid
from ._kit import (MAX_STEPS, EvaluationSpec, FlowSpec, Int, OneOf, OptimiserSpec, RuntimeSpec, by_cell,
                   errorbar_figure, mean_std_text, mlp_work, scaled_cost)

__all__ = ["ResidualDepthConfig", "ARCHITECTURES", "run", "build_student", "quick", "paper", "pivot_table",
           "save_figures", "STUDY", "QUICK_SETTINGS", "QUICK_TRANSFORMER"]

ARCHITECTURES = ("resnet", "transformer")


@dataclass(frozen=True)
class ResidualDepthConfig(FlowSpec, OptimiserSpec, EvaluationSpec, RuntimeSpec):
    """One (architecture, L) cell; validated on construction."""

    arch: str = "resnet"
    blocks: int = 4
    sigma0: float = 1e-3
    teacher_steps: int = 100
    teacher_grid: str = "uniform"
    inner_width: int = 128
    inner_depth: int = 2
    d_model: int = 128
    heads: int = 4
    ff_mult: int = 4
    train_steps: int = 20_000
    affine_samples: int = 8192

    RANGES: ClassVar[dict[str, Any]] = dict(
        arch=OneOf(ARCHITECTURES), blocks=Int(1, 256), teacher_steps=Int(2, 100_000), teacher_grid=OneOf(TEACHER_GRIDS),
        inner_width=Int(1, 16384), inner_depth=Int(1, 64), d_model=Int(1, 4096), heads=Int(1, 256), ff_mult=Int(1, 64),
        train_steps=Int(1, MAX_STEPS), affine_samples=Int(0, 1_000_000))

    def check(self) -> None:
        if self.d_model % self.heads:
            raise DistillPlanError("heads", f"must divide d_model={self.d_model}, got {self.heads}")


def build_student(config: ResidualDepthConfig, seed: int):
    """The untrained student of ``config`` with initial weights drawn from stream ``("init", seed)``."""
    from ..nn import CoordinateTransformer, ResidualComposition, make_generator

    generator = make_generator("init", seed)
    if config.arch == "resnet":
        return ResidualComposition(config.dim, config.blocks, config.beta, config.horizon, config.inner_width,
                                   config.inner_depth, "relu", generator=generator)
    return CoordinateTransformer(config.dim, config.blocks, config.d_model, config.heads, config.ff_mult,
                                 generator=generator)


def run(config: ResidualDepthConfig, seed: int) -> list[dict]:
    """Train the L-block student of ``config`` with trial seed ``seed``; one row.

    Row: ``arch, blocks, seed, relmse``, ``affine_relmse`` (the relMSE of the least-squares affine map
    ``x_T ↦ x_0`` fitted on ``affine_samples`` other draws: the floor of any affine student),
    ``final_loss``, ``parameters``, the teacher diagnostics (``teacher_gain``, ``exact_gain``,
    ``teacher_rms``, ``exact_rms``), ``stability_A`` (A(T)), ``train_s``, ``eval_s``, ``threads``.
    """
    import torch

    from ..flowmap import exact_linear_gain, map_pairs, rk4_linear_gain, score_map, teacher_map
    from ..nn import affine_fit, fit, make_generator, parameter_count

    horizon = config.horizon
    with config.runtime() as (device, threads):
        field = config.field(device)
        mixture = field.mixture

        def teacher(x: torch.Tensor) -> torch.Tensor:
            return teacher_map(field, x, horizon, 0.0, config.teacher_steps, config.teacher_grid)

        net = build_student(config, seed).to(device)
        pairs = map_pairs(field, horizon, teacher, config.batch, make_generator("data", seed, device=device))
        result = fit(net, pairs, config.settings(config.train_steps))

        start = time.perf_counter()
        predictors = {"student": net}
        if config.affine_samples > config.dim + 1:
            fit_x = field.sample(horizon, config.affine_samples, make_generator("probe", config.eval_seed, device=device))
            weight, bias = affine_fit(fit_x, teacher(fit_x))
            predictors["affine"] = lambda x: x.to(torch.float64) @ weight + bias
        scores = score_map(field, horizon, teacher, predictors, config.eval_samples,
                           make_generator("eval", config.eval_seed, device=device), batch_rows=2048)
        eval_s = time.perf_counter() - start

    return [{
        "arch": config.arch,
        "teacher_grid": config.teacher_grid,
        "blocks": config.blocks,
        "seed": seed,
        "relmse": scores.relmse["student"],
        "affine_relmse": scores.relmse.get("affine", math.nan),
        "final_loss": result.final_loss[0],
        "parameters": parameter_count(net),
        "teacher_gain": rk4_linear_gain(field.to(torch.float64), horizon, 0.0, config.teacher_steps,
                                        config.teacher_grid),
        "exact_gain": exact_linear_gain(field, horizon, 0.0),
        "teacher_rms": scores.reference_rms,
        "exact_rms": mixture.rms_norm(),
        "stability_A": float(cumulative_stability(horizon, mixture, field.process)),
        "mean_diameter": mean_diameter(mixture.means),
        "train_s": result.timings.total_s,
        "data_s": result.timings.data_s,
        "eval_s": eval_s,
        "threads": threads,
    }]


# ---------------------------------------------------------------------- presets
PAPER_SEEDS = tuple(range(10))
QUICK_SEEDS = (0, 1)
BLOCKS = (1, 2, 4, 8, 16)

QUICK_SETTINGS = dict(train_steps=4000, batch=64, lr=1e-3, eval_samples=4096)
"""The quick preset's departures from the paper for the residual composition (geometry, σ0, teacher, blocks kept)."""
QUICK_TRANSFORMER = dict(QUICK_SETTINGS, d_model=32, train_steps=600)
"""The quick transformer: d_model 32 (4 heads) and 600 steps, L ∈ {1, 2, 4} only (L = 8, 16 cost too much on 2 cores)."""
QUICK_TRANSFORMER_BLOCKS = (1, 2, 4)


def paper() -> Sweep:
    """The authors' exp3 for both architectures: L ∈ {1, 2, 4, 8, 16}, 10 seeds (100 runs, GPU-sized)."""
    return Sweep(STUDY_NAME, grid(ResidualDepthConfig, arch=list(ARCHITECTURES), blocks=list(BLOCKS)), PAPER_SEEDS)


QUICK_PAPER_TEACHER_BLOCKS = (1, 4, 16)
"""Residual cells on the paper's (uniform-step) teacher in the quick preset, to show its reversed trend."""


def quick() -> Sweep:
    """Residual composition on the accurate (geometric) teacher at L ∈ {1, 2, 4, 8, 16}, on the paper's teacher at
    L ∈ {1, 4, 16}, and a small transformer on the paper's teacher at L ∈ {1, 2, 4}; short training, 2 seeds."""
    configs = grid(ResidualDepthConfig, base={**QUICK_SETTINGS, "arch": "resnet", "teacher_grid": "geometric"},
                   blocks=list(BLOCKS))
    configs += grid(ResidualDepthConfig, base={**QUICK_SETTINGS, "arch": "resnet"},
                    blocks=list(QUICK_PAPER_TEACHER_BLOCKS))
    configs += grid(ResidualDepthConfig, base={**QUICK_TRANSFORMER, "arch": "transformer"},
                    blocks=list(QUICK_TRANSFORMER_BLOCKS))
    return Sweep(STUDY_NAME, configs, QUICK_SEEDS)


# ---------------------------------------------------------------------- reports
def _teacher(row: dict) -> str:
    return str(row.get("teacher_grid") or "uniform")


def _label(row: dict) -> str:
    return f"{row['arch']} ({_teacher(row)} teacher)"


def _series(rows: list[dict]) -> dict[str, dict[int, list[float]]]:
    """relMSE values per (architecture, teacher) label and L."""
    series: dict[str, dict[int, list[float]]] = defaultdict(dict)
    for (label, blocks), values in by_cell([{**r, "label": _label(r)} for r in rows], ("label", "blocks"), "relmse").items():
        series[label][int(blocks)] = values
    return dict(sorted(series.items()))


def _affine_floors(rows: list[dict]) -> dict[str, float]:
    """Mean affine-map relMSE per teacher grid (the same target for every architecture and L)."""
    cells = by_cell([{**r, "teacher": _teacher(r)} for r in rows], ("teacher",), "affine_relmse")
    return {teacher: float(np.mean(values)) for (teacher,), values in sorted(cells.items())}


def pivot_table(rows: list[dict]) -> dict[str, list[dict]]:
    """``relmse_pivot``: rows L, one ``mean ± std`` column per (architecture, teacher), and the affine floors."""
    series = _series(rows)
    blocks = sorted({b for cell in series.values() for b in cell})
    table = []
    for b in blocks:
        row: dict = {"blocks": b}
        for label, cell in series.items():
            row[label] = mean_std_text(cell[b]) if cell.get(b) else ""
        for teacher, floor in _affine_floors([r for r in rows if int(r["blocks"]) == b]).items():
            row[f"affine_floor ({teacher} teacher)"] = floor
        table.append(row)
    return {"relmse_pivot": table}


def save_figures(rows: list[dict], out_dir: Path) -> list[Path]:
    """``relmse_vs_blocks.png``: relMSE mean ± std against L per (architecture, teacher), affine floors dashed."""
    floors = {f"best affine map ({teacher})": floor for teacher, floor in _affine_floors(rows).items()}
    path = errorbar_figure(_series(rows), Path(out_dir) / "relmse_vs_blocks.png", xlabel="blocks L",
                           ylabel="relMSE of Φ(0←T) (mean ± std)", title="full-horizon map vs depth", floors=floors,
                           size=(5.8, 3.8), legend_size=7)
    return [path]


STUDY_NAME = "residual-depth"

def _work(config: ResidualDepthConfig) -> float:
    """Multiply-adds of training: the student (residual blocks or transformer layers) and the teacher's targets.

    Transformer layers count 2.5× their multiply-adds: their many small operations ran that much slower per
    multiply-add than the residual blocks' in the quick preset's measured runs (46 s against 18 s predicted).
    """
    if config.arch == "resnet":
        student = config.blocks * mlp_work(config.dim, config.inner_width, config.inner_depth)
    else:
        student = 2.5 * config.blocks * config.dim * config.d_model * config.d_model * (4 + 2 * config.ff_mult)
    teacher = 4 * config.teacher_steps * config.dim * config.components
    return config.train_steps * config.batch * (3 * student + teacher)

STUDY = Study(STUDY_NAME, ResidualDepthConfig, run, {"quick": quick, "paper": paper},
              group_by=("arch", "teacher_grid", "blocks"), metrics=("relmse", "affine_relmse"), figures=save_figures,
              tables=pivot_table,
              description="Paper 2 exp3: residual composition and coordinate transformer students of Φ_{0←T} "
                          "vs blocks L.",
              cost=scaled_cost(_work, ResidualDepthConfig(**QUICK_SETTINGS, blocks=4), 11), cost_basis="scaled from a measured quick-preset run on 2 shared Xeon cores")
