"""Study ``score-approx`` (paper 2, exp1): static score approximation at fixed times.

For each time ``t ∈ {0.1, 0.3, 0.5, 0.7, 0.9}·T`` a separate MLP (no time input) regresses the
closed-form score of the OU-evolved mixture,

    ∇log p_t(x) = −(x − Σ_k γ_k(x, t) e^{−βt} μ_k) / s_t²,   s_t² = e^{−2βt} σ0² + 1 − e^{−2βt},

on fresh samples ``x ~ p_t`` every step. Students have ``depth`` hidden layers with alternating
ReLU/ReQU activations (ReQU(x) = max(0, x)²) and a linear output. The metric is the relative score
MSE ``Σ_i ||ŝ(x_i) − ∇log p_t(x_i)||² / Σ_i ||∇log p_t(x_i)||²`` (a ratio of sums) over
``eval_samples`` fresh draws. The five students of one run are trained together as one
:class:`~distillplan.train.StackedMLP` (independent parameters, losses and gradient clips).

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

import numpy as np

from ..errors import DistillPlanError, check_choice, check_device, check_fields, check_int_at_least, check_positive
from ..mixture import OUProcess, mean_diameter, paper_mixture
from ..plots import save_figure
from ..runner import Study, Sweep, grid

__all__ = ["ScoreApproxConfig", "run", "quick", "paper", "pivot_tables", "save_figures", "STUDY",
           "QUICK_SETTINGS", "PAPER_TIMES"]

PAPER_TIMES = (0.1, 0.3, 0.5, 0.7, 0.9)
"""Fractions of the horizon T at which a score network is trained."""

_STREAM_SCORE = 11  # generator stream tags of this study (init, data, eval)


@dataclass(frozen=True)
class ScoreApproxConfig:
    """One (σ0, width) cell: one student per time in ``times`` (fractions of T). Validated on construction.

    ``means_seed=None`` draws the means from the trial seed (the paper); an integer fixes them.
    ``threads = 0`` picks torch's thread count automatically; ``device`` is a torch device name.
    """

    sigma0: float = 0.1
    width: int = 512
    depth: int = 4
    activation: str = "alternating"
    times: tuple[float, ...] = PAPER_TIMES
    dim: int = 64
    components: int = 20
    box: float = 5.0
    means_seed: int | None = None
    beta: float = 5.0
    horizon: float = 1.0
    steps: int = 20_000
    batch: int = 1024
    lr: float = 2e-4
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_samples: int = 50_000
    eval_seed: int = 0
    threads: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        from ..nn import ACTIVATIONS  # lazy: torch is only needed to run

        check_fields(self, at_least=dict(width=1, depth=1, dim=1, components=1, steps=1, batch=1, eval_samples=1,
                                         eval_seed=0, threads=0),
                     positive=("sigma0", "box", "beta", "horizon", "lr", "grad_clip"), nonnegative=("weight_decay",))
        if self.means_seed is not None:
            check_int_at_least("means_seed", self.means_seed, 0)
        check_choice("activation", self.activation, ACTIVATIONS, "activation")
        times = tuple(self.times) if isinstance(self.times, (tuple, list)) else None
        if not times:
            raise DistillPlanError("times", f"must be a non-empty list of fractions of T, got {self.times!r}")
        for frac in times:
            value = check_positive("times", frac)
            if value > 1.0:
                raise DistillPlanError("times", f"fractions of T must lie in (0, 1], got {frac!r}")
        if len(set(times)) != len(times):
            raise DistillPlanError("times", f"must be distinct, got {list(times)}")
        object.__setattr__(self, "times", tuple(float(f) for f in times))
        check_device("device", self.device)


def run(config: ScoreApproxConfig, seed: int) -> list[dict]:
    """Train one score network per time of ``config`` with trial seed ``seed``; one row per time.

    Row: ``sigma0, width, depth, t_frac, t, seed, relmse`` (relative score MSE), ``final_loss``,
    ``score_rms`` (√E||∇log p_t||², the scale of the target), ``s_t2``, ``means_seed``,
    ``mean_diameter``, ``train_s``, ``eval_s``, ``threads``.
    """
    import torch

    from ..flowmap import MixtureField
    from ..nn import StackedMLP, TrainSettings, cpu_runtime, fit, make_generator

    seed = check_int_at_least("seed", seed, 0)
    means_seed = seed if config.means_seed is None else config.means_seed
    mixture = paper_mixture(config.components, config.dim, means_seed, config.box, config.sigma0)
    process = OUProcess(config.beta, config.horizon)
    times = [frac * config.horizon for frac in config.times]
    n = len(times)
    settings = TrainSettings(steps=config.steps, batch=config.batch, lr=config.lr,
                             weight_decay=config.weight_decay, grad_clip=config.grad_clip)
    with cpu_runtime(config.threads) as threads:
        field = MixtureField(mixture, process, torch.float32, device=config.device)
        net = StackedMLP(n, config.dim, config.width, config.depth, config.activation,
                         generators=[make_generator(_STREAM_SCORE, 1, seed, k) for k in range(n)]).to(field.device)
        data_gens = [make_generator(_STREAM_SCORE, 2, seed, k, device=field.device) for k in range(n)]

        def make_chunk(count: int):
            rows = count * config.batch
            inputs = torch.empty(count, n, config.batch, config.dim, device=field.device)
            targets = torch.empty_like(inputs)
            for k, t in enumerate(times):
                x = field.sample(t, rows, data_gens[k])
                inputs[:, k] = x.view(count, config.batch, config.dim)
                targets[:, k] = field.score(x, t).view(count, config.batch, config.dim)
            return inputs, targets

        result = fit(net, make_chunk, settings)
        start = time.perf_counter()
        errors, score_rms = _evaluate(field, net, times, config, seed)
        eval_s = time.perf_counter() - start
    return [{
        "sigma0": config.sigma0,
        "width": config.width,
        "depth": config.depth,
        "t_frac": frac,
        "t": t,
        "seed": seed,
        "relmse": errors[k],
        "final_loss": result.final_loss[k],
        "score_rms": score_rms[k],
        "s_t2": field.variance(t),
        "means_seed": means_seed,
        "mean_diameter": mean_diameter(mixture.means),
        "train_s": result.total_s,
        "eval_s": eval_s,
        "threads": threads,
    } for k, (frac, t) in enumerate(zip(config.times, times))]


def _evaluate(field, net, times, config: ScoreApproxConfig, seed: int) -> tuple[list[float], list[float]]:
    """Relative score MSE (ratio of sums, float64) of each student on ``eval_samples`` fresh draws of ``p_t``."""
    import torch

    from ..nn import make_generator

    n = len(times)
    gens = [make_generator(_STREAM_SCORE, 3, config.eval_seed, seed, k, device=field.device) for k in range(n)]
    err = np.zeros(n)
    norm = np.zeros(n)
    done = 0
    rows_per_batch = 8192
    with torch.no_grad():
        while done < config.eval_samples:
            rows = min(rows_per_batch, config.eval_samples - done)
            x = torch.stack([field.sample(t, rows, gens[k]) for k, t in enumerate(times)])
            target = torch.stack([field.score(x[k], t) for k, t in enumerate(times)]).to(torch.float64)
            diff = net(x).to(torch.float64) - target
            err += diff.square().sum(dim=(1, 2)).cpu().numpy()
            norm += target.square().sum(dim=(1, 2)).cpu().numpy()
            done += rows
    return (err / norm).tolist(), np.sqrt(norm / config.eval_samples).tolist()


# ---------------------------------------------------------------------- presets
PAPER_SEEDS = tuple(range(10))
QUICK_SEEDS = (0, 1)

QUICK_SETTINGS = dict(steps=3000, batch=256, lr=1e-3, eval_samples=8192)
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


def _mean_std(values: list[float]) -> str:
    mean = float(np.mean(values))
    if len(values) < 2:
        return f"{mean:.2e}"
    return f"{mean:.2e} ± {float(np.std(values, ddof=1)):.2e}"


def pivot_tables(rows: list[dict]) -> dict[str, list[dict]]:
    """``sigma_sweep`` (rows σ0) and ``width_sweep`` (rows width): relMSE ``mean ± std`` per ``t/T`` column."""
    cells = _cells(rows)
    sweep_width, sweep_sigma = _sweep_axes(cells)
    fracs = sorted({f for cell in cells.values() for f in cell})

    def row_of(sigma0: float, width: int) -> dict:
        cell = cells[(sigma0, width)]
        row = {"sigma0": sigma0, "width": width, "seeds": max(len(v) for v in cell.values())}
        for frac in fracs:
            row[f"t/T={frac:g}"] = _mean_std(cell[frac]) if cell.get(frac) else ""
        return row

    sigma_sweep = [row_of(s, w) for s, w in sorted(cells) if w == sweep_width]
    width_sweep = [row_of(s, w) for s, w in sorted(cells, key=lambda k: k[1]) if s == sweep_sigma]
    return {"sigma_sweep": sigma_sweep, "width_sweep": width_sweep}


def save_figures(rows: list[dict], out_dir: Path) -> list[Path]:
    """``score_error_vs_t.png`` (one line per σ0) and ``score_error_vs_width.png`` (one line per t/T)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cells = _cells(rows)
    sweep_width, sweep_sigma = _sweep_axes(cells)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for (sigma0, width), cell in sorted(cells.items()):
        if width != sweep_width:
            continue
        fracs = sorted(cell)
        mean, std = _stats([cell[f] for f in fracs])
        ax.errorbar(fracs, mean, yerr=std, marker="o", capsize=3, label=f"σ0 = {sigma0:g}")
    ax.set_yscale("log")
    ax.set_xlabel("t / T")
    ax.set_ylabel("relative score MSE (mean ± std)")
    ax.set_title(f"score error vs time (width {sweep_width})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path = out_dir / "score_error_vs_t.png"
    save_figure(fig, path, dpi=130)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    widths = sorted(w for s, w in cells if s == sweep_sigma)
    fracs = sorted({f for (s, w), cell in cells.items() if s == sweep_sigma for f in cell})
    for frac in fracs:
        present = [w for w in widths if frac in cells[(sweep_sigma, w)]]
        mean, std = _stats([cells[(sweep_sigma, w)][frac] for w in present])
        ax.errorbar(present, mean, yerr=std, marker="o", capsize=3, label=f"t/T = {frac:g}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    if widths:
        ax.set_xticks(widths, [str(w) for w in widths])
    ax.set_xlabel("width")
    ax.set_ylabel("relative score MSE (mean ± std)")
    ax.set_title(f"score error vs width (σ0 = {sweep_sigma:g})" if sweep_sigma is not None else "score error vs width")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    path = out_dir / "score_error_vs_width.png"
    save_figure(fig, path, dpi=130)
    paths.append(path)
    return paths


def _stats(groups: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    mean = np.array([np.mean(g) for g in groups])
    std = np.array([np.std(g, ddof=1) if len(g) > 1 else 0.0 for g in groups])
    return mean, std


STUDY_NAME = "score-approx"

STUDY = Study(
    name=STUDY_NAME,
    config_type=ScoreApproxConfig,
    run=run,
    presets={"quick": quick, "paper": paper},
    group_by=("sigma0", "width", "t_frac"),
    metrics=("relmse",),
    figures=save_figures,
    tables=pivot_tables,
    description="Paper 2 exp1: MLP approximation of the closed-form mixture score at fixed times, vs σ0 and width.",
)
