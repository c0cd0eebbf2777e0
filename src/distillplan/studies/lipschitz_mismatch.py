"""Study ``lipschitz-mismatch`` (paper 2, exp2): one-step distillation under a weight bound.

A single student ``Ψ(x_Δ) ≈ Φ_{0←Δ}(x_Δ)`` learns the PF-ODE flow map over the "OU half-life"
``Δ = ln 2 / (2β)`` from fresh ``x_Δ ~ p_Δ``; the target is the teacher RK4 with ``teacher_steps``
(paper: 10) steps over ``[0, Δ]``. The student is an MLP (paper: depth 4, width 512, alternating
ReLU/ReQU) whose every Linear *weight* (not bias) is clipped to ``[−B, B]`` after each optimizer
step, which caps its Lipschitz capacity, while the target grows stiffer as σ0 shrinks. Metric:
relative MSE of the map (ratio of sums) over ``eval_samples`` fresh draws.

Beyond the paper, each run also measures, on ``lipschitz_samples`` test points ``x ~ p_Δ``:

* ``student_lipschitz``: ``max_i ||J_Ψ(x_i)||₂`` (exact Jacobians, ``torch.func``), a lower bound
  on the student's Lipschitz constant, and ``weight_spectral_product = Π ||W_i||₂`` (an upper
  bound for ReLU layers; a capacity proxy with ReQU, which is not globally Lipschitz);
* ``target_lipschitz``: the same maximum for the teacher map (float64);
* ``log10_stability_factor = A(Δ)/ln 10``, the log10 of the worst-case amplification
  ``exp(∫_0^Δ L(u) du)`` (it overflows a float for σ0 ≤ 0.1);
* the teacher's gain on directions orthogonal to every mean, ``teacher_gain`` (RK4) next to the
  exact ``exact_gain = s_0/s_Δ = σ0/s_Δ``: for σ0 ≤ 0.01 ten RK4 steps leave RK4's stability region
  near t = 0 and the "target" is dominated by this spurious linear gain (see
  :func:`distillplan.flowmap.exact_linear_gain`); ``teacher_rms`` vs ``exact_rms = √E||x_0||²`` shows the same.

``teacher_grid='geometric'`` replaces the paper's equal steps by steps geometric in t down to the stiff
floor (:func:`distillplan.flowmap.teacher_nodes`); with ``teacher_steps`` ≈ 100 it reproduces the exact gain
(10 geometric steps are stable but too coarse: 4.7e−4 against the exact 1.4e−3 at σ0 = 1e−3).

Presets: ``paper`` is the published exp2 (d = 64, K = 20 fixed means from seed 0, β = 5, width 512,
depth 4, 20 000 steps, batch 1024, lr 2e−4, clip 1.0, 50 000 eval samples, B ∈ {0.001, 0.01, 0.1,
0.25} × σ0 ∈ {0.1, 0.01, 0.001, 0.0001}, seeds 0–9). ``quick`` shrinks width, steps, batch and
evaluation for 2 CPU cores (see :data:`QUICK_SETTINGS`).

Measured: ``quick`` took 5 min 14 s wall (615 CPU-seconds, 32 runs) on 2 idle cores (618 s when the cores
were shared); B = 0.001 leaves relMSE ≈ 0.94–1.0,
B = 0.1 learns (7.0e−4, 7.4e−2, 9.1e−2, 0.24 for σ0 = 0.1 … 1e−4), and learned students reach the
teacher's Lipschitz constant (≈ 1.6e5 vs 8.1e4 at σ0 = 1e−4) while B = 0.01 caps them below it.
Paper cells on an H100 (seed 0, 50 s each): 1.5e−5 at (σ0 = 0.1, B = 0.1), 3.4e−2 at (1e−4, 0.1);
published means 2.5e−5 and 3.2e−2.

Beyond the paper, the same quick sweep on the accurate target (``--seeds 0 --set teacher_grid=geometric
--set teacher_steps=100``; 7 min 45 s, the 100-step target Jacobians dominate) keeps the weight-bound
effect (B = 0.001: 0.944, B = 0.01: 0.82 at every σ0) but *not* the σ0 trend: at B = 0.1 relMSE is
1.1e−3, 8.2e−5, 7.5e−5, 7.3e−5 for σ0 = 0.1 … 1e−4. At Δ the modes are far apart (mean diameter 29
against s_Δ ≈ 0.7), so the exact map sends each basin almost to its mode with gain σ0/s_Δ ≤ 0.14 and
its large Jacobians sit on basin boundaries that carry almost no mass. The growth of the published error
as σ0 shrinks therefore measures the 10-step teacher's instability (gain −810 at σ0 = 1e−3), not
a harder target.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import DistillPlanError, check_positive
from ..mixture import TEACHER_GRIDS, cumulative_stability, lipschitz_bound, mean_diameter
from ..plots import label_axes, pyplot, save_figure
from ..runner import Study, Sweep, grid
from ._kit import (ACTIVATION, MAX_STEPS, EvaluationSpec, FlowSpec, Int, OneOf, OptimiserSpec, Real, RuntimeSpec,
                   mean_std_text, mlp_work, scaled_cost)

__all__ = ["LipschitzMismatchConfig", "run", "quick", "paper", "half_life", "report_tables", "save_figures",
           "STUDY", "QUICK_SETTINGS"]

def half_life(beta: float) -> float:
    """``Δ = ln 2 / (2β)``: the time at which ``e^{−2βΔ} = 1/2``."""
    return math.log(2.0) / (2.0 * check_positive("beta", beta))


@dataclass(frozen=True)
class LipschitzMismatchConfig(FlowSpec, OptimiserSpec, EvaluationSpec, RuntimeSpec):
    """One (σ0, B) cell. ``delta=None`` means ``ln 2/(2β)``; ``lipschitz_samples=0`` skips the Jacobians."""

    sigma0: float = 0.1
    bound: float = 0.1
    width: int = 512
    depth: int = 4
    activation: str = "alternating"
    delta: float | None = None
    teacher_steps: int = 10
    teacher_grid: str = "uniform"
    train_steps: int = 20_000
    lipschitz_samples: int = 256

    RANGES: ClassVar[dict[str, Any]] = dict(
        bound=Real(0.0, 1e6, open_lo=True), width=Int(1, 16384), depth=Int(1, 64),
        activation=ACTIVATION, delta=Real(0.0, 1e3, open_lo=True, optional=True),
        teacher_steps=Int(1, 100_000), teacher_grid=OneOf(TEACHER_GRIDS), train_steps=Int(1, MAX_STEPS),
        lipschitz_samples=Int(0, 100_000))

    def check(self) -> None:
        if self.delta is not None and self.delta > self.horizon:
            raise DistillPlanError("delta", f"must be <= horizon={self.horizon:g}, got {self.delta:g}")
        if self.teacher_grid == "geometric" and self.teacher_steps < 2:
            raise DistillPlanError("teacher_steps", f"a geometric teacher needs >= 2 steps, got {self.teacher_steps}")

    @property
    def start_time(self) -> float:
        """Δ, the start time of the distilled map."""
        return half_life(self.beta) if self.delta is None else float(self.delta)


def run(config: LipschitzMismatchConfig, seed: int) -> list[dict]:
    """Train the weight-bounded one-step student of ``config`` with trial seed ``seed``; one row.

    Row: ``sigma0, bound, seed, relmse`` and the Lipschitz measurements of the module docstring,
    ``final_loss``, ``delta``, ``stability_A`` (A(Δ)), ``lipschitz_bound_0`` (L(0)),
    ``max_abs_weight``, ``train_s``, ``eval_s``, ``lipschitz_s``, ``threads``.
    """
    import torch

    from ..flowmap import exact_linear_gain, map_pairs, rk4_linear_gain, rk4_map, score_map, teacher_map
    from ..nn import MLP, fit, jacobian_spectral_norms, make_generator, weight_spectral_product

    delta = config.start_time
    with config.runtime() as (device, threads):
        field = config.field(device)
        mixture, process = field.mixture, field.process
        net = MLP(config.dim, config.width, config.depth, config.activation,
                  generator=make_generator("init", seed)).to(device)

        def teacher(x: torch.Tensor) -> torch.Tensor:
            return teacher_map(field, x, delta, 0.0, config.teacher_steps, config.teacher_grid)

        pairs = map_pairs(field, delta, teacher, config.batch, make_generator("data", seed, device=device))
        result = fit(net, pairs, config.settings(config.train_steps, weight_bound=config.bound))
        net.requires_grad_(False)

        start = time.perf_counter()
        scores = score_map(field, delta, teacher, {"student": net}, config.eval_samples,
                           make_generator("eval", config.eval_seed, device=device))
        eval_s = time.perf_counter() - start

        start = time.perf_counter()
        student_lip = student_lip_mean = target_lip = math.nan
        if config.lipschitz_samples > 0:
            points = field.sample(delta, config.lipschitz_samples,
                                  make_generator("probe", config.eval_seed, device=device))
            student_norms = jacobian_spectral_norms(net, points)
            field64 = field.to(torch.float64)
            target_norms = jacobian_spectral_norms(
                lambda v: rk4_map(field64, v, delta, 0.0, config.teacher_steps, config.teacher_grid),
                points.to(torch.float64))
            student_lip, student_lip_mean = float(student_norms.max()), float(student_norms.mean())
            target_lip = float(target_norms.max())
        lipschitz_s = time.perf_counter() - start
        weights = net.weight_tensors()
        spectral_product = weight_spectral_product(weights)
        max_abs_weight = max(float(w.abs().max()) for w in weights)

    stability_A = float(cumulative_stability(delta, mixture, process))
    return [{
        "sigma0": config.sigma0,
        "bound": config.bound,
        "seed": seed,
        "relmse": scores.relmse["student"],
        "student_lipschitz": student_lip,
        "student_lipschitz_mean": student_lip_mean,
        "weight_spectral_product": spectral_product,
        "target_lipschitz": target_lip,
        "log10_stability_factor": stability_A / math.log(10.0),
        "stability_A": stability_A,
        "lipschitz_bound_0": float(lipschitz_bound(0.0, mixture, process)),
        "teacher_grid": config.teacher_grid,
        "teacher_gain": rk4_linear_gain(field.to(torch.float64), delta, 0.0, config.teacher_steps,
                                        config.teacher_grid),
        "exact_gain": exact_linear_gain(field, delta, 0.0),
        "teacher_rms": scores.reference_rms,
        "exact_rms": mixture.rms_norm(),
        "max_abs_weight": max_abs_weight,
        "final_loss": result.final_loss[0],
        "delta": delta,
        "mean_diameter": mean_diameter(mixture.means),
        "train_s": result.timings.total_s,
        "eval_s": eval_s,
        "lipschitz_s": lipschitz_s,
        "threads": threads,
    }]


# ---------------------------------------------------------------------- presets
PAPER_SEEDS = tuple(range(10))
QUICK_SEEDS = (0, 1)
SIGMAS = (0.1, 0.01, 0.001, 0.0001)
BOUNDS = (0.001, 0.01, 0.1, 0.25)

QUICK_SETTINGS = dict(width=256, train_steps=2000, batch=256, lr=1e-3, eval_samples=8192, lipschitz_samples=128)
"""The quick preset's departures from the paper (geometry, depth, activations, Δ and teacher are the paper's)."""


def paper() -> Sweep:
    """The authors' exp2: B ∈ {0.001, 0.01, 0.1, 0.25} × σ0 ∈ {0.1, 0.01, 1e−3, 1e−4}, 10 seeds (160 runs)."""
    return Sweep(STUDY_NAME, grid(LipschitzMismatchConfig, sigma0=list(SIGMAS), bound=list(BOUNDS)), PAPER_SEEDS)


def quick() -> Sweep:
    """The paper's 4 × 4 grid with narrow, briefly trained students (2 seeds, 32 runs); see :data:`QUICK_SETTINGS`."""
    configs = grid(LipschitzMismatchConfig, base=QUICK_SETTINGS, sigma0=list(SIGMAS), bound=list(BOUNDS))
    return Sweep(STUDY_NAME, configs, QUICK_SEEDS)


# ---------------------------------------------------------------------- reports
def _by_cell(rows: list[dict]) -> dict[tuple[float, float], list[dict]]:
    cells: dict[tuple[float, float], list[dict]] = defaultdict(list)
    for row in rows:
        cells[(float(row["sigma0"]), float(row["bound"]))].append(row)
    return cells


def report_tables(rows: list[dict]) -> dict[str, list[dict]]:
    """``relmse_pivot`` (rows σ0 descending, columns B: relMSE mean ± std) and ``lipschitz`` (one row per cell).

    ``lipschitz`` columns: student Lipschitz (max ||J|| over test points, mean over seeds), weight
    spectral product, target Lipschitz (teacher map), log10 of the stability factor exp(A(Δ)),
    RK4 and exact orthogonal gains, and relMSE.
    """
    cells = _by_cell(rows)
    sigmas = sorted({s for s, _ in cells}, reverse=True)
    bounds = sorted({b for _, b in cells})
    pivot = []
    for sigma0 in sigmas:
        row: dict = {"sigma0": sigma0}
        for bound in bounds:
            members = cells.get((sigma0, bound))
            row[f"B={bound:g}"] = mean_std_text([m["relmse"] for m in members]) if members else ""
        pivot.append(row)

    def mean_of(members, key):
        values = [float(m[key]) for m in members if m.get(key) is not None and not math.isnan(float(m[key]))]
        return float(np.mean(values)) if values else math.nan

    lipschitz = []
    for sigma0 in sigmas:
        for bound in bounds:
            members = cells.get((sigma0, bound))
            if not members:
                continue
            lipschitz.append({
                "sigma0": sigma0,
                "bound": bound,
                "seeds": len(members),
                "relmse_mean": mean_of(members, "relmse"),
                "student_lipschitz": mean_of(members, "student_lipschitz"),
                "weight_spectral_product": mean_of(members, "weight_spectral_product"),
                "target_lipschitz": mean_of(members, "target_lipschitz"),
                "log10_stability_factor": mean_of(members, "log10_stability_factor"),
                "teacher_gain": mean_of(members, "teacher_gain"),
                "exact_gain": mean_of(members, "exact_gain"),
                "teacher_rms": mean_of(members, "teacher_rms"),
                "exact_rms": mean_of(members, "exact_rms"),
            })
    return {"relmse_pivot": pivot, "lipschitz": lipschitz}


def save_figures(rows: list[dict], out_dir: Path) -> list[Path]:
    """``relmse_vs_bound.png`` (one line per σ0) and ``lipschitz_vs_bound.png`` (student vs target)."""
    plt = pyplot()
    cells = _by_cell(rows)
    sigmas = sorted({s for s, _ in cells}, reverse=True)
    out_dir = Path(out_dir)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    def series(sigma0, key):
        bounds = sorted(b for s, b in cells if s == sigma0)
        groups = [[float(m[key]) for m in cells[(sigma0, b)]] for b in bounds]
        mean = np.array([np.nanmean(g) for g in groups])
        std = np.array([np.nanstd(g, ddof=1) if len(g) > 1 else 0.0 for g in groups])
        return bounds, mean, std

    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for i, sigma0 in enumerate(sigmas):
        bounds, mean, std = series(sigma0, "relmse")
        ax.errorbar(bounds, mean, yerr=std, marker="o", capsize=3, color=colors[i % len(colors)],
                    label=f"σ0 = {sigma0:g}")
    label_axes(ax, xlabel="weight bound B", ylabel="relMSE of Φ(0←Δ) (mean ± std)", xscale="log",
               title="one-step student under a weight bound", legend_size=8)
    first = out_dir / "relmse_vs_bound.png"
    save_figure(fig, first, dpi=130)

    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for i, sigma0 in enumerate(sigmas):
        color = colors[i % len(colors)]
        bounds, mean, _ = series(sigma0, "student_lipschitz")
        ax.plot(bounds, mean, marker="o", color=color, label=f"student, σ0 = {sigma0:g}")
        _, target, _ = series(sigma0, "target_lipschitz")
        if np.isfinite(target).any():
            ax.axhline(float(np.nanmean(target)), color=color, linestyle="--", linewidth=1)
    label_axes(ax, xlabel="weight bound B", ylabel="max ||J||₂ over test points", xscale="log",
               title="student Lipschitz (solid) vs target map (dashed)", legend_size=7)
    second = out_dir / "lipschitz_vs_bound.png"
    save_figure(fig, second, dpi=130)
    return [first, second]


STUDY_NAME = "lipschitz-mismatch"

def _work(config: LipschitzMismatchConfig) -> float:
    """Multiply-adds of training plus the teacher's targets and the Jacobians at the test points."""
    student = mlp_work(config.dim, config.width, config.depth)
    teacher = 4 * config.teacher_steps * config.dim * config.components
    return (config.train_steps * config.batch * (3 * student + teacher)
            + config.lipschitz_samples * config.dim * (student + teacher))

STUDY = Study(STUDY_NAME, LipschitzMismatchConfig, run, {"quick": quick, "paper": paper},
              group_by=("sigma0", "bound"),
              metrics=("relmse", "student_lipschitz", "weight_spectral_product", "target_lipschitz",
                       "log10_stability_factor"),
              figures=save_figures, tables=report_tables,
              description="Paper 2 exp2: one-step flow-map students under a weight bound B as σ0 shrinks "
                          "(Lipschitz mismatch).",
              cost=scaled_cost(_work, LipschitzMismatchConfig(**QUICK_SETTINGS), 11), cost_basis="scaled from a measured quick-preset run on 2 shared Xeon cores")
