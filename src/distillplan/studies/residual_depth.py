"""Study ``residual-depth`` (paper 2, exp3): the full-horizon map ``Φ_{0←T}`` vs number of blocks.

A single student maps ``x_T ~ p_T`` to the teacher's ``x_0`` (σ0 = 1e−3 by default), trained on fresh
samples every step. Two architectures of L blocks (:mod:`distillplan.train.residual`):

* ``resnet``: the residual composition (Definition 10) ``x ← x + α v_k(x)``, ``α = −T/L``,
  ``v_k(x) = −β(x + s_k(x))``, each ``s_k`` its own ReLU MLP (inner depth 2, width 128, no time);
* ``transformer``: the 64 coordinates as scalar tokens, ``Linear(1→128)`` + learned positional
  embedding, L pre-LN blocks (4-head self-attention, GELU MLP ×4), ``Linear(128→1)``.

Two teachers (``teacher_grid``), both ``teacher_steps`` = 100 RK4 steps from T to 0
(:func:`teacher_nodes`):

* ``uniform``: the paper's equal steps. At σ0 = 1e−3 this is far from the exact flow map: its last
  step crosses ``t → 0`` where ``h·β/s_t²`` leaves RK4's stability region, so on directions orthogonal
  to every mean it multiplies by ≈ −995 instead of the exact ``σ0/s_T ≈ 1e−3`` and its outputs have RMS
  norm ≈ 8e3 instead of ≈ 24 (rows: ``teacher_gain``, ``exact_gain``, ``teacher_rms``, ``exact_rms``).
  About 93% of that target's energy is an affine function of ``x_T``: the best affine map scores
  relMSE ≈ 0.067 (``affine_relmse``), and the paper's L = 1 transformer (0.071) sits at that floor.
* ``geometric``: steps geometric in t down to ``10⁻²·σ0²/(2β)`` and one step to 0
  (:func:`~distillplan.train.geometric_nodes`), which stays stable through the stiff end: its gain is
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

Measured, ``quick`` on 2 idle cores: 6 min 24 s wall, 759 CPU-seconds (22 runs). relMSE mean ± std:

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

import numpy as np

from ..errors import DistillPlanError, check_choice, check_device, check_fields, check_int_at_least
from ..mixture import OUProcess, cumulative_stability, mean_diameter, paper_mixture
from ..plots import save_figure
from ..runner import Study, Sweep, grid

__all__ = ["ResidualDepthConfig", "ARCHITECTURES", "run", "build_student", "quick", "paper", "pivot_table",
           "save_figures", "STUDY", "QUICK_SETTINGS", "QUICK_TRANSFORMER",
           "TEACHER_GRIDS", "teacher_nodes"]

ARCHITECTURES = ("resnet", "transformer")
TEACHER_GRIDS = ("uniform", "geometric")  # distillplan.train.TEACHER_GRIDS, without importing torch

_STREAM_RES = 13  # generator stream tags of this study (init, data, eval)


@dataclass(frozen=True)
class ResidualDepthConfig:
    """One (architecture, L) cell; validated on construction."""

    arch: str = "resnet"
    blocks: int = 4
    dim: int = 64
    components: int = 20
    means_seed: int = 0
    box: float = 5.0
    beta: float = 5.0
    horizon: float = 1.0
    sigma0: float = 1e-3
    teacher_steps: int = 100
    teacher_grid: str = "uniform"
    inner_width: int = 128
    inner_depth: int = 2
    d_model: int = 128
    heads: int = 4
    ff_mult: int = 4
    steps: int = 20_000
    batch: int = 1024
    lr: float = 2e-4
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_samples: int = 50_000
    eval_seed: int = 0
    affine_samples: int = 8192
    threads: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_choice("arch", self.arch, ARCHITECTURES, "architecture")
        check_choice("teacher_grid", self.teacher_grid, TEACHER_GRIDS, "teacher grid")
        check_fields(self, at_least=dict(blocks=1, dim=1, components=1, means_seed=0, teacher_steps=2, inner_width=1,
                                         inner_depth=1, d_model=1, heads=1, ff_mult=1, steps=1, batch=1,
                                         eval_samples=1, eval_seed=0, affine_samples=0, threads=0),
                     positive=("box", "beta", "horizon", "sigma0", "lr", "grad_clip"), nonnegative=("weight_decay",))
        if self.d_model % self.heads:
            raise DistillPlanError("heads", f"must divide d_model={self.d_model}, got {self.heads}")
        check_device("device", self.device)


def teacher_nodes(config: ResidualDepthConfig) -> np.ndarray:
    """The teacher's RK4 step times from T to 0 (:func:`distillplan.train.teacher_nodes`).

    ``uniform``: the paper's ``teacher_steps`` equal steps. ``geometric``: ``teacher_steps`` steps geometric
    in t down to :func:`~distillplan.train.stiff_floor` and one to 0, which keeps RK4 stable through the stiff
    end of the flow (``β/s_t² ≈ β/σ0²`` at t = 0) and gives the accurate flow map.
    """
    import torch

    from ..flowmap import MixtureField
    from ..flowmap import teacher_nodes as nodes_of

    mixture = paper_mixture(config.components, config.dim, config.means_seed, config.box, config.sigma0)
    field = MixtureField(mixture, OUProcess(config.beta, config.horizon), torch.float64)
    return nodes_of(field, config.horizon, 0.0, config.teacher_steps, config.teacher_grid)


def build_student(config: ResidualDepthConfig, seed: int):
    """The untrained student of ``config`` with initial weights drawn from ``seed``."""
    from ..nn import CoordinateTransformer, ResidualComposition, make_generator

    generator = make_generator(_STREAM_RES, 1, seed)
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
    ``teacher_rms``, ``exact_rms``), ``stability_budget`` (A(T)), ``train_s``, ``eval_s``, ``threads``.
    """
    import torch

    from ..flowmap import MixtureField, exact_linear_gain, rk4_linear_gain, teacher_map
    from ..nn import TrainSettings, affine_fit, cpu_runtime, fit, make_generator, parameter_count

    seed = check_int_at_least("seed", seed, 0)
    mixture = paper_mixture(config.components, config.dim, config.means_seed, config.box, config.sigma0)
    process = OUProcess(config.beta, config.horizon)
    horizon = config.horizon
    settings = TrainSettings(steps=config.steps, batch=config.batch, lr=config.lr, weight_decay=config.weight_decay,
                           grad_clip=config.grad_clip)
    with cpu_runtime(config.threads) as threads:
        field = MixtureField(mixture, process, torch.float32, device=config.device)

        def teacher(x: torch.Tensor) -> torch.Tensor:
            return teacher_map(field, x, horizon, 0.0, config.teacher_steps, config.teacher_grid)

        net = build_student(config, seed).to(field.device)
        data_gen = make_generator(_STREAM_RES, 2, seed, device=field.device)

        def make_chunk(count: int):
            x = field.sample(horizon, count * config.batch, data_gen)
            y = teacher(x)
            shape = (count, config.batch, config.dim)
            return x.view(shape), y.view(shape)

        result = fit(net, make_chunk, settings)

        start = time.perf_counter()
        affine = None
        if config.affine_samples > config.dim + 1:
            fit_x = field.sample(horizon, config.affine_samples,
                                 make_generator(_STREAM_RES, 4, config.eval_seed, device=field.device))
            affine = affine_fit(fit_x, teacher(fit_x))
        eval_gen = make_generator(_STREAM_RES, 3, config.eval_seed, device=field.device)
        err = norm = affine_err = 0.0
        done = 0
        with torch.no_grad():
            while done < config.eval_samples:
                rows = min(2048, config.eval_samples - done)
                x = field.sample(horizon, rows, eval_gen)
                y = teacher(x).to(torch.float64)
                diff = net(x).to(torch.float64) - y
                err += float(diff.square().sum())
                norm += float(y.square().sum())
                if affine is not None:
                    affine_err += float((x.to(torch.float64) @ affine[0] + affine[1] - y).square().sum())
                done += rows
        eval_s = time.perf_counter() - start

    exact_rms = math.sqrt(float(np.mean(np.sum(mixture.means**2, axis=1))) + config.dim * config.sigma0**2)
    return [{
        "arch": config.arch,
        "teacher_grid": config.teacher_grid,
        "blocks": config.blocks,
        "seed": seed,
        "relmse": err / norm,
        "affine_relmse": affine_err / norm if affine is not None else math.nan,
        "final_loss": result.final_loss[0],
        "parameters": parameter_count(net),
        "teacher_gain": rk4_linear_gain(field.to(torch.float64), horizon, 0.0, config.teacher_steps,
                                        config.teacher_grid),
        "exact_gain": exact_linear_gain(field, horizon, 0.0),
        "teacher_rms": math.sqrt(norm / config.eval_samples),
        "exact_rms": exact_rms,
        "stability_budget": float(cumulative_stability(horizon, mixture, process)),
        "mean_diameter": mean_diameter(mixture.means),
        "train_s": result.total_s,
        "data_s": result.data_s,
        "eval_s": eval_s,
        "threads": threads,
    }]


# ---------------------------------------------------------------------- presets
PAPER_SEEDS = tuple(range(10))
QUICK_SEEDS = (0, 1)
BLOCKS = (1, 2, 4, 8, 16)

QUICK_SETTINGS = dict(steps=4000, batch=64, lr=1e-3, eval_samples=4096)
"""The quick preset's departures from the paper for the residual composition (geometry, σ0, teacher, blocks kept)."""
QUICK_TRANSFORMER = dict(QUICK_SETTINGS, d_model=32, steps=600)
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


def _by_cell(rows: list[dict], key: str = "relmse") -> dict[str, dict[int, list[float]]]:
    cells: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        value = row.get(key)
        if value is not None and not math.isnan(float(value)):
            cells[_label(row)][int(row["blocks"])].append(float(value))
    return cells


def _affine_floors(rows: list[dict]) -> dict[str, float]:
    """Mean affine-map relMSE per teacher grid (the same target for every architecture and L)."""
    values: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r.get("affine_relmse") is not None and not math.isnan(float(r["affine_relmse"])):
            values[_teacher(r)].append(float(r["affine_relmse"]))
    return {teacher: float(np.mean(v)) for teacher, v in sorted(values.items())}


def pivot_table(rows: list[dict]) -> dict[str, list[dict]]:
    """``relmse_pivot``: rows L, one ``mean ± std`` column per (architecture, teacher), and the affine floors."""
    cells = _by_cell(rows)
    labels = sorted(cells)
    blocks = sorted({b for cell in cells.values() for b in cell})
    table = []
    for b in blocks:
        row: dict = {"blocks": b}
        for label in labels:
            values = cells[label].get(b)
            if not values:
                row[label] = ""
            elif len(values) < 2:
                row[label] = f"{np.mean(values):.2e}"
            else:
                row[label] = f"{np.mean(values):.2e} ± {np.std(values, ddof=1):.2e}"
        for teacher, floor in _affine_floors([r for r in rows if int(r["blocks"]) == b]).items():
            row[f"affine_floor ({teacher} teacher)"] = floor
        table.append(row)
    return {"relmse_pivot": table}


def save_figures(rows: list[dict], out_dir: Path) -> list[Path]:
    """``relmse_vs_blocks.png``: relMSE mean ± std against L per (architecture, teacher), affine floors dashed."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cells = _by_cell(rows)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    all_blocks: set[int] = set()
    for label in sorted(cells):
        blocks = sorted(cells[label])
        all_blocks.update(blocks)
        mean = np.array([np.mean(cells[label][b]) for b in blocks])
        std = np.array([np.std(cells[label][b], ddof=1) if len(cells[label][b]) > 1 else 0.0 for b in blocks])
        ax.errorbar(blocks, mean, yerr=std, marker="o", capsize=3, label=label)
    for (teacher, floor), style in zip(_affine_floors(rows).items(), ("--", ":")):
        if math.isfinite(floor):
            ax.axhline(floor, color="gray", linestyle=style, linewidth=1, label=f"best affine map ({teacher})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ticks = sorted(all_blocks)
    ax.set_xticks(ticks, [str(b) for b in ticks])
    ax.set_xlabel("blocks L")
    ax.set_ylabel("relMSE of Φ(0←T) (mean ± std)")
    ax.set_title("full-horizon map vs depth")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    path = out_dir / "relmse_vs_blocks.png"
    save_figure(fig, path, dpi=130)
    return [path]


STUDY_NAME = "residual-depth"

STUDY = Study(
    name=STUDY_NAME,
    config_type=ResidualDepthConfig,
    run=run,
    presets={"quick": quick, "paper": paper},
    group_by=("arch", "teacher_grid", "blocks"),
    metrics=("relmse", "affine_relmse"),
    figures=save_figures,
    tables=pivot_table,
    description="Paper 2 exp3: residual composition and coordinate transformer students of Φ_{0←T} vs blocks L.",
)
