"""Study ``score-approx`` (paper 2, exp1): static score approximation at fixed times.

For each time ``t ∈ {0.1, 0.3, 0.5, 0.7, 0.9}·T`` a separate MLP (no time input) regresses the
closed-form score of the OU-evolved mixture,

    ∇log p_t(x) = −(x − Σ_k γ_k(x, t) e^{−βt} μ_k) / s_t²,   s_t² = e^{−2βt} σ0² + 1 − e^{−2βt},

on fresh samples ``x ~ p_t`` every step. Students have ``depth`` hidden layers with alternating
ReLU/ReQU activations (ReQU(x) = max(0, x)²) and a linear output. The metric is the relative score
MSE ``Σ_i ||ŝ(x_i) − ∇log p_t(x_i)||² / Σ_i ||∇log p_t(x_i)||²`` (a ratio of sums) over
``eval_samples`` fresh draws. The five students of one run are trained together as one
:class:`~distillplan.nn.StackedMLP` (independent parameters, losses and gradient clips).

The means are redrawn per seed (``means_seed=None``: the trial seed is the means seed, as the
authors' script). Two sweeps: σ0 at fixed width, and width at fixed σ0.

Presets: ``paper`` is the published exp1 (d = 64, K = 20, box 5, β = 5, T = 1, depth 4,
20 000 steps, batch 1024, AdamW lr 2e−4, clip 1.0, 50 000 eval samples, seeds 0–9; σ0 ∈ {0.01,
0.1, 1} at width 512 and width ∈ {128, …, 2048} at σ0 = 0.1; GPU-sized). ``quick`` keeps the data
geometry and shrinks widths, steps, batch and evaluation for 2 CPU cores (see :data:`QUICK_SETTINGS`).

Measured: ``quick`` took 4 min 5 s wall (482 CPU-seconds) on 2 idle cores (579 s when the cores were
shared); the error falls with width at every t (t/T = 0.1: 0.73, 0.53, 0.094, 0.052 for widths 32–256)
and is largest at t/T = 0.1 for every width and every σ0 (σ0 = 0.01, 0.1, 1 at width 128: 0.099,
0.094, 0.167 at t/T = 0.1 against 0.021–0.033 at t/T ≥ 0.7). One paper cell
(σ0 = 0.1, width 512, seed 0) on an H100 gave 6.8e−3, 5.3e−3, 2.8e−3, 1.4e−3, 1.5e−3 (published
means 6.7e−3, 4.9e−3, 3.1e−3, 1.5e−3, 1.8e−3) in 52 s.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import DistillPlanError, check_positive
from ..mixture import mean_diameter
from ..runner import Study, Sweep, grid
from ._kit import (ACTIVATION, MAX_SEED, MAX_STEPS, EvaluationSpec, FlowSpec, Int, OptimiserSpec, RuntimeSpec,
                   errorbar_figure, mean_std_text, mlp_work, scaled_cost)

__all__ = ["ScoreApproxConfig", "run", "quick", "paper", "pivot_tables", "save_figures", "STUDY",
           "QUICK_SETTINGS", "PAPER_TIMES"]

PAPER_TIMES = (0.1, 0.3, 0.5, 0.7, 0.9)
"""Fractions of the horizon T at which a score network is trained."""


class _TimeFractions:
    """A non-empty list of distinct fractions of T in (0, 1]."""

    def check(self, name: str, value: Any) -> tuple[float, ...]:
        times = tuple(value) if isinstance(value, (tuple, list)) else None
        if not times or len(times) > 64:
            raise DistillPlanError(name, f"must be a list of 1 to 64 fractions of T, got {value!r}")
        fracs = tuple(check_positive(name, frac) for frac in times)
        if max(fracs) > 1.0:
            raise DistillPlanError(name, f"fractions of T must lie in (0, 1], got {max(fracs)!r}")
        if len(set(fracs)) != len(fracs):
            raise DistillPlanError(name, f"must be distinct, got {list(fracs)}")
        return fracs

    def __str__(self) -> str:
        return "distinct fractions of T in (0, 1]"


@dataclass(frozen=True)
class ScoreApproxConfig(FlowSpec, OptimiserSpec, EvaluationSpec, RuntimeSpec):
    """One (σ0, width) cell: one student per time in ``times`` (fractions of T). Validated on construction.

    ``means_seed=None`` draws the means from the trial seed (the paper); an integer fixes them.
    """

    sigma0: float = 0.1
    means_seed: int | None = None
    width: int = 512
    depth: int = 4
    activation: str = "alternating"
    times: tuple[float, ...] = PAPER_TIMES
    train_steps: int = 20_000

    RANGES: ClassVar[dict[str, Any]] = dict(
        means_seed=Int(0, MAX_SEED, optional=True), width=Int(1, 16384), depth=Int(1, 64),
        activation=ACTIVATION, times=_TimeFractions(), train_steps=Int(1, MAX_STEPS))


def run(config: ScoreApproxConfig, seed: int) -> list[dict]:
    """Train one score network per time of ``config`` with trial seed ``seed``; one row per time.

    Row: ``sigma0, width, depth, t_frac, t, seed, relmse`` (relative score MSE), ``final_loss``,
    ``score_rms`` (√E||∇log p_t||², the scale of the target), ``s_t2``, ``means_seed``,
    ``mean_diameter``, ``train_s``, ``eval_s``, ``threads``.
    """
    import torch

    from ..nn import StackedMLP, batched_relative_mse, fit, make_generator

    means_seed = seed if config.means_seed is None else config.means_seed
    times = [frac * config.horizon for frac in config.times]
    n = len(times)
    with config.runtime() as (device, threads):
        field = config.field(device, means_seed=means_seed)
        mixture = field.mixture
        net = StackedMLP(n, config.dim, config.width, config.depth, config.activation,
                         generators=[make_generator("init", seed, k) for k in range(n)]).to(device)
        data_gens = [make_generator("data", seed, k, device=device) for k in range(n)]
        eval_gens = [make_generator("eval", config.eval_seed, seed, k, device=device) for k in range(n)]

        def draw(gens: list, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
            """``(x, ∇log p_t(x))`` stacked over the n times: shape ``(n, rows, d)``."""
            x = torch.stack([field.sample(t, rows, gens[k]) for k, t in enumerate(times)])
            return x, torch.stack([field.score(x[k], t) for k, t in enumerate(times)])

        def make_chunk(count: int):
            x, score = draw(data_gens, count * config.batch)
            shape = (n, count, config.batch, config.dim)
            return x.view(shape).transpose(0, 1), score.view(shape).transpose(0, 1)

        result = fit(net, make_chunk, config.settings(config.train_steps))
        start = time.perf_counter()

        def draw_eval(rows: int):
            x, score = draw(eval_gens, rows)
            return score, {"student": net(x)}

        scores = batched_relative_mse(draw_eval, config.eval_samples, grouped=True)
        eval_s = time.perf_counter() - start
    return [{
        "sigma0": config.sigma0,
        "width": config.width,
        "depth": config.depth,
        "t_frac": frac,
        "t": t,
        "seed": seed,
        "relmse": float(scores.relmse["student"][k]),
        "final_loss": result.final_loss[k],
        "score_rms": float(scores.reference_rms[k]),
        "s_t2": field.variance(t),
        "means_seed": means_seed,
        "mean_diameter": mean_diameter(mixture.means),
        "train_s": result.timings.total_s,
        "eval_s": eval_s,
        "threads": threads,
    } for k, (frac, t) in enumerate(zip(config.times, times))]


# ---------------------------------------------------------------------- presets
PAPER_SEEDS = tuple(range(10))
QUICK_SEEDS = (0, 1)

QUICK_SETTINGS = dict(train_steps=3000, batch=256, lr=1e-3, eval_samples=8192)
"""The quick preset's departures from the paper (geometry, depth, activations and times are the paper's)."""
QUICK_SIGMAS, QUICK_SIGMA_WIDTH = (0.01, 0.1, 1.0), 128
QUICK_WIDTHS, QUICK_WIDTH_SIGMA = (32, 64, 128, 256), 0.1

PAPER_SIGMAS, PAPER_SIGMA_WIDTH = (0.01, 0.1, 1.0), 512
PAPER_WIDTHS, PAPER_WIDTH_SIGMA = (128, 256, 512, 1024, 2048), 0.1


def _sweep(base: dict, sigmas, sigma_width, widths, width_sigma, seeds) -> Sweep:
    configs = grid(ScoreApproxConfig, base=base, sigma0=list(sigmas), width=[sigma_width])
    configs += grid(ScoreApproxConfig, base=base, sigma0=[width_sigma], width=list(widths))
    return Sweep(STUDY_NAME, configs, seeds)  # the shared (σ0, width) cell runs once


def paper() -> Sweep:
    """The authors' exp1: σ0 ∈ {0.01, 0.1, 1} at width 512 and width ∈ {128..2048} at σ0 = 0.1, 10 seeds."""
    return _sweep({}, PAPER_SIGMAS, PAPER_SIGMA_WIDTH, PAPER_WIDTHS, PAPER_WIDTH_SIGMA, PAPER_SEEDS)


def quick() -> Sweep:
    """Paper geometry and times; widths 32–256, σ0 sweep at width 128, short training (2 seeds, 12 runs)."""
    return _sweep(QUICK_SETTINGS, QUICK_SIGMAS, QUICK_SIGMA_WIDTH, QUICK_WIDTHS, QUICK_WIDTH_SIGMA, QUICK_SEEDS)


# ---------------------------------------------------------------------- reports
def _cells(rows: list[dict]) -> dict[tuple[float, int], dict[float, list[float]]]:
    cells: dict[tuple[float, int], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        cells[(float(row["sigma0"]), int(row["width"]))][float(row["t_frac"])].append(float(row["relmse"]))
    return cells


def _sweep_axes(cells) -> tuple[int | None, float | None]:
    """The width with the most σ0 values (σ0 sweep) and the σ0 with the most widths (width sweep)."""
    by_width: dict[int, set] = defaultdict(set)
    by_sigma: dict[float, set] = defaultdict(set)
    for sigma0, width in cells:
        by_width[width].add(sigma0)
        by_sigma[sigma0].add(width)
    sweep_width = max(by_width, key=lambda w: (len(by_width[w]), w)) if by_width else None
    sweep_sigma = max(by_sigma, key=lambda s: (len(by_sigma[s]), s)) if by_sigma else None
    return sweep_width, sweep_sigma


def pivot_tables(rows: list[dict]) -> dict[str, list[dict]]:
    """``sigma_sweep`` (rows σ0) and ``width_sweep`` (rows width): relMSE ``mean ± std`` per ``t/T`` column."""
    cells = _cells(rows)
    sweep_width, sweep_sigma = _sweep_axes(cells)
    fracs = sorted({f for cell in cells.values() for f in cell})

    def row_of(sigma0: float, width: int) -> dict:
        cell = cells[(sigma0, width)]
        row = {"sigma0": sigma0, "width": width, "seeds": max(len(v) for v in cell.values())}
        for frac in fracs:
            row[f"t/T={frac:g}"] = mean_std_text(cell[frac]) if cell.get(frac) else ""
        return row

    sigma_sweep = [row_of(s, w) for s, w in sorted(cells) if w == sweep_width]
    width_sweep = [row_of(s, w) for s, w in sorted(cells, key=lambda k: k[1]) if s == sweep_sigma]
    return {"sigma_sweep": sigma_sweep, "width_sweep": width_sweep}


def save_figures(rows: list[dict], out_dir: Path) -> list[Path]:
    """``score_error_vs_t.png`` (one line per σ0) and ``score_error_vs_width.png`` (one line per t/T)."""
    cells = _cells(rows)
    sweep_width, sweep_sigma = _sweep_axes(cells)
    by_sigma = {f"σ0 = {sigma0:g}": cell for (sigma0, width), cell in sorted(cells.items()) if width == sweep_width}
    by_time: dict[str, dict[int, list[float]]] = defaultdict(dict)
    for (sigma0, width), cell in sorted(cells.items(), key=lambda item: item[0][1]):
        if sigma0 == sweep_sigma:
            for frac, values in sorted(cell.items()):
                by_time[f"t/T = {frac:g}"][width] = values
    out_dir = Path(out_dir)
    return [
        errorbar_figure(by_sigma, out_dir / "score_error_vs_t.png", xlabel="t / T", log2_x=False,
                        ylabel="relative score MSE (mean ± std)", title=f"score error vs time (width {sweep_width})"),
        errorbar_figure(dict(sorted(by_time.items())), out_dir / "score_error_vs_width.png", xlabel="width",
                        ylabel="relative score MSE (mean ± std)", legend_size=8,
                        title=f"score error vs width (σ0 = {sweep_sigma:g})" if sweep_sigma is not None
                        else "score error vs width"),
    ]


STUDY_NAME = "score-approx"

def _work(config: ScoreApproxConfig) -> float:
    """Multiply-adds of training the stacked students (forward and backward ≈ 3 passes), plus a per-step overhead."""
    per_step = len(config.times) * config.batch * (3 * mlp_work(config.dim, config.width, config.depth) + 2e3)
    return config.train_steps * per_step

STUDY = Study(STUDY_NAME, ScoreApproxConfig, run, {"quick": quick, "paper": paper},
              group_by=("sigma0", "width", "t_frac"), metrics=("relmse",), figures=save_figures, tables=pivot_tables,
              description="Paper 2 exp1: MLP approximation of the closed-form mixture score at fixed times, "
                          "vs σ0 and width.",
              cost=scaled_cost(_work, ScoreApproxConfig(**QUICK_SETTINGS, width=128), 25), cost_basis="scaled from a measured quick-preset run on 2 shared Xeon cores")
