"""One-command recommendation from a user's latents: merge plan, time grid, exports, report.

Pipeline (every number is computed, nothing is looked up):

1. centre the latents; λ_i = per-coordinate variance (the diagonal Λ of paper 1) and the
   eigenvalues of the full covariance (how far from diagonal the data is; from the same ≤ 4000 rows
   the mixture is fitted to);
2. the optimal merge plan for Λ with every canonical strategy's predicted W2 (paper 1);
3. an isotropic Gaussian mixture fitted to the latents (BIC) under the OU process, its stability
   coordinate A(t) and the stability-balanced grid next to a uniform one (paper 2);
4. exports of the grid and of the plan's top-level boundaries (diffusers, k-diffusion, flow, JSON);
5. figures, CSV/JSON files and a self-contained HTML report.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DistillPlanError, check_int_at_least, check_int_range, check_seed
from ..export import export_document, from_ou_grid, from_vp_indices, plan_boundaries
from ..io import check_output_dir
from ..linear import LinearTeacher, MergeModel, check_steps, check_variances
from ..linear.compare import compare_strategies, plan_json
from ..linear.planners import check_planner_size, check_stage_front, uses_relaxed
from ..mixture import OUProcess, segment_stability, stability_grid, uniform_grid
from ..mixture.data import MAX_COMPONENTS, check_samples, fit_isotropic_mixture
from ..mixture.grids import MAX_SEGMENTS
from ..mixture.stability import cumulative_stability
from ..plots import save_figure
from ..schedules import make_schedule

__all__ = ["recommend", "check_latents", "check_options", "MIN_SAMPLES"]

_FIT_ROWS = 4000
MIN_SAMPLES = 10


def check_latents(x) -> np.ndarray:
    """A finite (n, d) array with n ≥ 10 rows (images must be encoded first) that passes
    :func:`~distillplan.mixture.data.check_samples` (no constant coordinate)."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise DistillPlanError("data", "must be a numeric (n, d) array of latents") from None
    if arr.ndim == 1:
        raise DistillPlanError("data", f"expected latents of shape (n, d), got a 1-d array of {arr.size} values")
    if arr.ndim > 2:
        raise DistillPlanError("data", f"expected latents of shape (n, d), got shape {arr.shape}; "
                                       "images must be encoded first (see the latents study)")
    if arr.shape[0] < MIN_SAMPLES:
        raise DistillPlanError("data", f"needs at least {MIN_SAMPLES} samples, got {arr.shape[0]}")
    return check_samples(arr, "data", min_rows=MIN_SAMPLES)


def check_options(out, *, steps: int = 32, budget: float = 6.4, schedule: str = "cosine", segments: int = 8,
                  beta: float = 5.0, horizon: float = 1.0, components: int | None = None, seed: int = 0,
                  max_stages: int | None = None) -> dict:
    """Validate every option of :func:`recommend` that does not depend on the data; create nothing.

    Returns the validated objects: ``schedule``, ``model``, ``segments``, ``process``, ``seed``, ``out``.
    """
    sched = make_schedule(schedule, check_steps(steps))
    model = MergeModel(budget)
    n_seg = check_int_range("segments", segments, 1, MAX_SEGMENTS)
    process = OUProcess(beta, horizon)
    seed = check_seed("seed", seed)
    if components is not None:
        check_int_range("components", components, 1, MAX_COMPONENTS)
    if max_stages is not None:
        check_int_at_least("max_stages", max_stages, 1)
    return {"schedule": sched, "model": model, "segments": n_seg, "process": process, "seed": seed,
            "out": check_output_dir("out", out)}


def recommend(latents, out, *, steps: int = 32, budget: float = 6.4, schedule: str = "cosine", segments: int = 8,
              beta: float = 5.0, horizon: float = 1.0, components: int | None = None, seed: int = 0,
              max_stages: int | None = None, on_start: Callable[[int, np.ndarray], None] | None = None) -> dict:
    """Run the pipeline; write everything into ``out``; return the recommendation document.

    Every input is validated before anything is computed or written; ``on_start(T, λ)`` is called
    then, just before the work starts. ``out`` is created only once everything has been computed.
    """
    opts = check_options(out, steps=steps, budget=budget, schedule=schedule, segments=segments, beta=beta,
                         horizon=horizon, components=components, seed=seed, max_stages=max_stages)
    sched, model, n_seg, process, seed, out = (opts[k] for k in ("schedule", "model", "segments", "process",
                                                                  "seed", "out"))
    T = sched.steps
    x = check_latents(latents)
    x = x - x.mean(axis=0)
    lam = check_variances(x.var(axis=0, ddof=1), "data")
    distinct = int(np.unique(lam).size)
    relaxed = uses_relaxed(distinct, model, max_stages)
    check_planner_size(T, distinct, lam.size, "data", relaxed=relaxed)
    if distinct == 1 and max_stages is not None:
        check_stage_front(T, max_stages)
    fit_count = min(x.shape[0], _FIT_ROWS)
    if components is not None and 2 * components > fit_count:
        raise DistillPlanError("components", f"must be at most {fit_count // 2} for {fit_count} fitted samples "
                                             f"(two per component), got {components}")
    if on_start is not None:
        on_start(T, lam, relaxed)

    cmp = compare_strategies(LinearTeacher(sched, lam), model, max_stages=max_stages)
    opt = cmp.optimal

    rng = np.random.default_rng(seed)
    fit_rows = x if x.shape[0] <= _FIT_ROWS else x[rng.choice(x.shape[0], _FIT_ROWS, replace=False)]
    eig = covariance_spectrum(fit_rows)
    mixture = fit_isotropic_mixture(fit_rows, components=components, seed=seed)
    grids = {"stability": stability_grid(mixture, process, n_seg), "uniform": uniform_grid(n_seg, process.horizon)}
    shares = {k: segment_stability(g, mixture, process) for k, g in grids.items()}

    from ..evidence import describe_uses

    uses = {"stability": describe_uses("mixture-stability"), "uniform": describe_uses("uniform")}
    exports = {"grid": export_document(from_ou_grid(grids["stability"].times, process.beta)),
               "plan": export_document(from_vp_indices(plan_boundaries(opt.plan), sched))}
    doc = {
        "data": {"samples": int(x.shape[0]), "dim": int(x.shape[1]), "share_lambda_le_1": float(np.mean(lam <= 1)),
                 "lambda_min": float(lam.min()), "lambda_median": float(np.median(lam)), "lambda_max": float(lam.max()),
                 "top_eigenvalue_over_top_lambda": float(eig[0] / lam.max())},
        "plan": {"steps": T, "budget": model.budget, "schedule": schedule, "model": model.name,
                 "strategies": cmp.to_dict(), "recommended": plan_json(opt.plan),
                 "equals": cmp.equals, "best_canonical": cmp.best_canonical()},
        "grid": {"beta": process.beta, "horizon": process.horizon, "segments": n_seg,
                 "mixture": {"components": mixture.components, "sigma0": mixture.sigma0,
                             "weights": mixture.weights.tolist()},
                 "A_total": float(cumulative_stability(process.horizon, mixture, process)),
                 "stability": grids["stability"].times.tolist(), "uniform": grids["uniform"].times.tolist(),
                 "segment_A": {k: v.tolist() for k, v in shares.items()},
                 "made_for": {"stability": "segment boundaries of distilled flow-map students (paper 2: equal shares of "
                                           "the analytic A(t) of the fitted mixture)",
                              "uniform": "the baseline the stability grid is compared with"},
                 "uses": uses},
        "exports": {k: f"exports/{k}.json" for k in exports},
    }

    sampling = [u for u in uses["stability"]["supported"] if u.startswith("sampler:")]
    exports["grid"]["what_for"] = (
        "segment boundaries of distilled flow-map students" + (
            f"; the measurements also support it for {', '.join(sampling)}" if sampling else
            "; NOT supported for few-step samplers by the measurements (see uses): the sampler formats below "
            "are for training tools that take a grid in these conventions"))
    exports["grid"]["uses"] = uses["stability"]
    (out / "exports").mkdir(parents=True, exist_ok=True)
    for name, export in exports.items():
        (out / "exports" / f"{name}.json").write_text(json.dumps(export, indent=2))
    (out / "recommendation.json").write_text(json.dumps(doc, indent=2))
    _write_tables(out, cmp, grids, shares, lam)
    _write_figures(out, lam, eig, cmp, grids, mixture, process)
    from ..report import build_report

    build_report(out, title="distillplan recommendation")
    return doc


def covariance_spectrum(x: np.ndarray) -> np.ndarray:
    """Eigenvalues of the sample covariance of the centred rows ``x``, largest first: the squared singular
    values s_k² / (n − 1) (the min(n, d) nonzero ones), O(n·d·min(n, d)) without forming the d × d matrix."""
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    return s**2 / max(x.shape[0] - 1, 1)


def _write_tables(out: Path, cmp, grids, shares, lam) -> None:
    with (out / "strategies.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["strategy", "w2_surrogate", "w2_data", "stages", "gap_vs_optimum", "plan"])
        for name, res in cmp.strategies.items():
            w.writerow([name, res.w2, res.w2_data, res.stages, cmp.gap(name), res.plan.to_text()])
        o = cmp.optimal
        w.writerow(["optimal", o.w2, o.evaluation.w2_data, o.plan.stages, 0.0, o.plan.to_text()])
    with (out / "grid.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["segment", "stability_t_start", "stability_t_end", "stability_A", "uniform_t_start",
                    "uniform_t_end", "uniform_A"])
        s, u = grids["stability"].times, grids["uniform"].times
        for k in range(len(s) - 1):
            w.writerow([k + 1, s[k], s[k + 1], shares["stability"][k], u[k], u[k + 1], shares["uniform"][k]])
    np.savetxt(out / "variances.txt", lam)


def _write_figures(out: Path, lam, eig, cmp, grids, mixture, process) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..plots import save_arc_diagram

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    bins = np.geomspace(lam.min() * 0.9, lam.max() * 1.1, 30)
    axes[0].hist(lam, bins=bins, color="#4c72b0")
    axes[0].set_xscale("log")
    axes[0].axvline(1.0, color="k", ls="--", lw=1)
    axes[0].set_xlabel("per-coordinate variance λ_i")
    axes[0].set_ylabel("coordinates")
    axes[0].set_title(f"{np.mean(lam <= 1):.0%} of λ_i ≤ 1")
    axes[1].semilogy(np.arange(1, eig.size + 1), np.maximum(eig, 1e-12), label="covariance eigenvalues")
    axes[1].semilogy(np.arange(1, lam.size + 1), np.sort(lam)[::-1], "--", label="diagonal λ_i (sorted)")
    axes[1].set_xlabel("rank")
    axes[1].legend(frameon=False)
    axes[1].set_title("spectrum")
    save_figure(fig, out / "spectrum.png", dpi=130)

    save_arc_diagram(cmp.optimal.plan, out / "plan.png", title=f"recommended plan ({cmp.equals or 'non-canonical'})")

    t = np.linspace(0, process.horizon, 2001)
    A = cumulative_stability(t, mixture, process)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(t, A, color="0.2", lw=1.5, label="A(t) = ∫ L")
    for name, color in (("stability", "#c44e52"), ("uniform", "#4c72b0")):
        g = grids[name].times
        ax.plot(g, cumulative_stability(g, mixture, process), "o", color=color, label=f"{name} grid")
    ax.set_xlabel("OU time t")
    ax.set_ylabel("cumulative stability A(t)")
    ax.legend(frameon=False)
    ax.set_title(f"fitted mixture: K = {mixture.components}, σ0 = {mixture.sigma0:.3g}")
    save_figure(fig, out / "grid.png", dpi=130)
