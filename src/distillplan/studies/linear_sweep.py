"""Study ``linear-sweep``: the analytic merge model over T, s, schedule and λ (paper 1's phase transition).

One config = one (T, schedule, s, λ): the optimal plan (:func:`~distillplan.linear.compare.compare_strategies`,
which also evaluates vanilla, progressive, BOOT and consistency) — its W2, stage count, solver,
``certified`` and ``gap_bound`` — every strategy's W2 and gap to the optimum, the best canonical
strategy, and the ``winner``: the best canonical strategy when its W2 exceeds the optimum W2* by
at most ``tie_rtol``·W2* + 8·T·ε·r_T·P* (ε = 2.2e-16), else ``non-canonical``. The second term is
a rounding floor: M(root) is built from up to T products and sums of order-1 factors, so
W2 = r_T |M − P*| carries an absolute rounding error of up to about T·ε·r_T·P*. Example: at λ = 1,
linear schedule, s = 10, T = 512 (W2 ≈ 1.7e-7) a 462-stage plan "beats" BOOT by 4e-15 absolute,
inside that floor (9e-13), while at λ = 2, cosine, s = 6.4, T = 512 a 2-stage plan beats vanilla
by 2.1e-12 absolute (3e-9 relative), above it: a real, if tiny, non-canonical optimum. ``equals``
keeps the strict answer of ``compare_strategies`` (identical plan or W2 equal to 1e-9 relative).
One λ per run gives a fine progress bar and resume granularity: the cost per λ differs by orders
of magnitude (see below).

Planner cost (measured on 2 shared CPU cores, cosine, s = 6.4). For a scalar λ the planner uses
the exact O(T³) oriented DP whenever every plan's root lies on one side of the surrogate — every
λ except a narrow window just above 1 that shrinks towards 1 as T grows (about 1.06–1.12 at
T = 32, 1.03–1.07 at T = 64, 1.015–1.04 at T = 128, 1.01–1.025 at T = 256 for the cosine schedule;
slightly higher for the linear one). The oriented DP takes ≤ 0.02 s at T ≤ 64, ≈ 0.4 s at T = 256
and ≈ 1.5 s at T = 512. Inside the window the Pareto DP runs: ≈ 6 s at T = 32, ≈ 24 s at T = 64,
≈ 60–85 s at T = 128 and many minutes at T ≥ 256; its cost is dominated by the O(T³) loop over
interval splits, so a smaller ``cap`` (candidates kept per interval; None = the planner's default)
only helps a little (T = 128: 85 s → 62 s with cap = 4), at the price of a looser ``gap_bound``.

Presets:

* ``quick`` — every T ∈ {32, 64, 128, 256, 512}, s ∈ {1, 3, 6.4, 10}, both schedules, and
  λ ∈ {0.2, 0.5, 1.0, 1.2, 1.3, 1.5, 2.0, 2.5, 3.0, 5.0}: points outside every T's Pareto window,
  so the whole preset (400 runs) needs only the oriented DP and takes a few minutes on 2 cores. It
  shows the phase transition at every T: BOOT optimal for λ ≤ 1, non-canonical optima at
  λ ∈ [1.2, 2], vanilla for λ ≥ 2.5.
* ``paper`` — the full grid: λ ∈ {0.2, 0.5, 1.0, 1.02, 1.08, 2.0, 5.0} ∪ 13 log-spaced points
  in [0.1, 10] ∪ 5 log-spaced points in (1.02, 2); 960 runs. Points inside the Pareto window
  (e.g. λ = 1.08 at T = 32/64, λ = 1.02 at T = 128/256) dominate: expect hours on 2 cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..linear import LinearTeacher
from ..linear.compare import compare_strategies
from ..linear.plan import Plan
from ..linear.strategies import STRATEGIES
from ..plots import STRATEGY_COLOURS, pyplot, save_arc_grid, save_figure
from ..runner import Study, Sweep, grid
from ._kit import Int, MergeSpec, Real

__all__ = ["LinearSweepConfig", "run", "STUDY", "winners_table", "winner_grid", "timing_table", "figures",
           "QUICK_LAMS", "PAPER_LAMS", "CATEGORIES"]

PAPER_STEPS = (32, 64, 128, 256, 512)
BUDGETS = (1.0, 3.0, 6.4, 10.0)
SCHEDULE_NAMES = ("cosine", "linear")
QUICK_LAMS = (0.2, 0.5, 1.0, 1.2, 1.3, 1.5, 2.0, 2.5, 3.0, 5.0)
PAPER_LAMS = tuple(sorted(
    {0.2, 0.5, 1.0, 1.02, 1.08, 2.0, 5.0}
    | {round(float(x), 4) for x in np.geomspace(0.1, 10.0, 13)}
    | {round(float(x), 4) for x in np.geomspace(1.02, 2.0, 7)[1:-1]}
))
NON_CANONICAL = "non-canonical"
CATEGORIES = ("boot", "vanilla", "progressive", "consistency", NON_CANONICAL)


@dataclass(frozen=True)
class LinearSweepConfig(MergeSpec):
    """One point of the sweep: T teacher steps, schedule, optimization time s per stage, scalar λ."""

    teacher_steps: int = 32
    lam: float = 1.0
    cap: int | None = None
    tie_rtol: float = 1e-9

    RANGES: ClassVar[dict[str, Any]] = dict(teacher_steps=Int(2, 1024), lam=Real(1e-12, 1e12, open_lo=True),
                                            cap=Int(1, 10_000, optional=True), tie_rtol=Real(0.0, 1e6))


def run(config: LinearSweepConfig, seed: int) -> list[dict]:
    """One row: the optimum and every canonical strategy at this (T, schedule, s, λ). ``seed`` is unused."""
    teacher = LinearTeacher(config.vp_schedule(), [config.lam])
    cmp = compare_strategies(teacher, config.model(), cap=config.cap)
    opt = cmp.optimal
    best = cmp.best_canonical()
    scale = float(np.sqrt(teacher.r2[-1, 0]) * abs(teacher.surrogate()[0]))  # r_T·P*
    floor = 8 * config.teacher_steps * np.finfo(np.float64).eps * scale  # rounding floor of W2
    tie = cmp.equals is not None or cmp.gap(best) <= config.tie_rtol * opt.w2 + floor
    winner = (cmp.equals or best) if tie else NON_CANONICAL
    row = {
        "winner": winner, "canonical_optimal": tie, "equals": cmp.equals or "",
        "best_canonical": best, "opt_w2": opt.w2, "opt_stages": opt.plan.stages,
        "best_canonical_w2": cmp.strategies[best].w2,
        "advantage": cmp.strategies[best].w2 / opt.w2 if opt.w2 > 0 else math.inf,
        "solver": opt.solver, "certified": opt.certified, "gap_bound": opt.gap_bound,
        "oriented": bool(opt.stats.get("oriented", 0)), "planner_s": float(opt.stats.get("seconds", math.nan)),
        "plan": opt.plan.to_text(),
    }
    if not math.isfinite(row["advantage"]):
        row["advantage"] = None
    for name, res in cmp.strategies.items():
        row[f"{name}_w2"] = res.w2
        row[f"{name}_gap"] = cmp.gap(name)
    return [row]


# ---------------------------------------------------------------------------------- tables

_KEY = ("teacher_steps", "schedule", "budget")


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["teacher_steps"], r["schedule"], r["budget"], r["lam"], r.get("init", ""),
                                       r.get("rate", ""), str(r.get("cap"))))


def winners_table(rows: list[dict]) -> list[dict]:
    """Long form: one row per (T, schedule, s, λ) with the winner and the planner's diagnostics."""
    cols = ("teacher_steps", "schedule", "budget", "lam", "init", "rate", "winner", "equals", "opt_stages", "best_canonical",
            "opt_w2", "best_canonical_w2", "advantage", "solver", "certified", "gap_bound", "planner_s")
    return [{c: r.get(c) for c in cols} for r in _sorted(rows)]


def _short(row: dict) -> str:
    w = row["winner"]
    if w == NON_CANONICAL:
        return f"nc:{row['opt_stages']}"
    return w if row.get("equals") == w else f"{w}~"  # ~: equal to the optimum only within the tolerance


def winner_grid(rows: list[dict]) -> list[dict]:
    """Wide form: one row per (T, schedule, s), one column ``lam=<λ>`` per λ holding the winner
    (``nc:<stages>`` for a non-canonical optimum; ``boot~`` when BOOT ties the optimum only within
    ``tie_rtol``, not exactly)."""
    lams = sorted({r["lam"] for r in rows})
    out: dict[tuple, dict] = {}
    for r in _sorted(rows):
        key = tuple(r[k] for k in _KEY)
        line = out.setdefault(key, {**dict(zip(_KEY, key)), **{f"lam={lam:g}": "" for lam in lams}})
        line[f"lam={r['lam']:g}"] = _short(r)
    return list(out.values())


def timing_table(rows: list[dict]) -> list[dict]:
    """Planner time per (T, schedule, s): total, worst λ, and how many λ needed the Pareto DP."""
    out: dict[tuple, dict] = {}
    for r in _sorted(rows):
        key = tuple(r[k] for k in _KEY)
        t = out.setdefault(key, {**dict(zip(_KEY, key)), "runs": 0, "pareto_runs": 0, "total_s": 0.0,
                                 "max_s": 0.0, "slowest_lam": None, "uncertified": 0})
        t["runs"] += 1
        t["pareto_runs"] += r["solver"] == "pareto"
        t["uncertified"] += not r["certified"]
        t["total_s"] += r["planner_s"]
        if r["planner_s"] >= t["max_s"]:
            t["max_s"], t["slowest_lam"] = r["planner_s"], r["lam"]
    return list(out.values())


def tables(rows: list[dict]) -> dict[str, list[dict]]:
    return {"winners": winners_table(rows), "winner_grid": winner_grid(rows), "timing": timing_table(rows)}


# ---------------------------------------------------------------------------------- figures


def figures(rows: list[dict], out_dir: Path) -> list[Path]:
    """Per T: ``winner_map_T<T>.png`` (winner over (λ, s), one panel per schedule),
    ``gaps_T<T>.png`` (gap of each strategy vs λ; schedules × s) and ``optima_T<T>.png``
    (arc diagrams of a few optimal plans)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for T in sorted({r["teacher_steps"] for r in rows}):
        sub = [r for r in rows if r["teacher_steps"] == T]
        written.append(_winner_map(sub, T, out_dir / f"winner_map_T{T}.png"))
        written.append(_gap_curves(sub, T, out_dir / f"gaps_T{T}.png"))
        arcs = _arc_choices(sub)
        if arcs:
            written.append(save_arc_grid(arcs, out_dir / f"optima_T{T}.png"))
    return written


def _winner_map(rows: list[dict], T: int, path: Path) -> Path:
    import matplotlib as mpl
    from matplotlib.patches import Patch

    plt = pyplot()
    schedules = [s for s in SCHEDULE_NAMES if any(r["schedule"] == s for r in rows)]
    schedules += sorted({r["schedule"] for r in rows} - set(schedules))
    lams = sorted({r["lam"] for r in rows})
    budgets = sorted({r["budget"] for r in rows})
    cmap = mpl.colors.ListedColormap([STRATEGY_COLOURS[c] for c in CATEGORIES])
    size = (0.55 * len(lams) * len(schedules) + 2.5, 0.5 * len(budgets) + 2.2)
    fig, axes = plt.subplots(1, len(schedules), figsize=size, squeeze=False)
    for ax, sched in zip(axes[0], schedules):
        img = np.full((len(budgets), len(lams)), np.nan)
        for r in rows:
            if r["schedule"] != sched:
                continue
            i, j = budgets.index(r["budget"]), lams.index(r["lam"])
            img[i, j] = CATEGORIES.index(r["winner"]) if r["winner"] in CATEGORIES else np.nan
            if r["winner"] == NON_CANONICAL:
                ax.text(j, i, str(r["opt_stages"]), ha="center", va="center", fontsize=6, color="white")
        ax.imshow(np.ma.masked_invalid(img), cmap=cmap, vmin=-0.5, vmax=len(CATEGORIES) - 0.5, aspect="auto",
                  origin="lower", interpolation="nearest")
        ax.set_xticks(range(len(lams)), [f"{lam:g}" for lam in lams], rotation=90, fontsize=7)
        ax.set_yticks(range(len(budgets)), [f"{b:g}" for b in budgets])
        ax.set_xlabel("data variance λ")
        ax.set_ylabel("optimization time s per stage")
        ax.set_title(f"{sched} schedule")
    handles = [Patch(color=STRATEGY_COLOURS[c], label=c) for c in CATEGORIES]
    fig.legend(handles=handles, loc="upper center", ncol=len(CATEGORIES), frameon=False, fontsize=8)
    fig.suptitle(f"optimal plan, T = {T} (numbers: stages of a non-canonical optimum)", y=0.02, va="bottom",
                 fontsize=9)
    save_figure(fig, path, dpi=130, rect=(0, 0.05, 1, 0.9))
    return path


def _gap_curves(rows: list[dict], T: int, path: Path) -> Path:
    plt = pyplot()
    schedules = sorted({r["schedule"] for r in rows})
    budgets = sorted({r["budget"] for r in rows})
    fig, axes = plt.subplots(len(schedules), len(budgets), figsize=(3.4 * len(budgets), 2.8 * len(schedules)),
                             squeeze=False, sharex=True)
    styles = {"vanilla": "-", "progressive": "--", "boot": "-", "consistency": ":"}
    for i, sched in enumerate(schedules):
        for j, budget in enumerate(budgets):
            ax = axes[i, j]
            sub = sorted((r for r in rows if r["schedule"] == sched and r["budget"] == budget), key=lambda r: r["lam"])
            if not sub:
                ax.set_visible(False)
                continue
            lam = np.array([r["lam"] for r in sub])
            gaps = {n: np.array([r[f"{n}_gap"] for r in sub]) for n in STRATEGIES}
            positive = np.concatenate([g[g > 0] for g in gaps.values()])
            floor = positive.min() / 3 if positive.size else 1e-12
            for name, g in gaps.items():
                ax.plot(lam, np.maximum(g, floor), styles.get(name, "-"), color=STRATEGY_COLOURS[name], lw=1.5, marker="o",
                        ms=2.5, label=name)
            edges = np.sqrt(lam[1:] * lam[:-1])  # geometric midpoints between neighbouring λ
            edges = np.concatenate([[lam[0] / 1.15], edges, [lam[-1] * 1.15]])
            for k, r in enumerate(sub):
                if r["winner"] == NON_CANONICAL:
                    ax.axvspan(edges[k], edges[k + 1], color=STRATEGY_COLOURS[NON_CANONICAL], alpha=0.08, lw=0)
            ax.axhline(floor, color="0.7", lw=0.6)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.axvline(1.0, color="0.8", lw=0.8, ls="--")
            _lam_ticks(ax, lam)
            ax.set_title(f"{sched}, s = {budget:g}", fontsize=9)
            if i == len(schedules) - 1:
                ax.set_xlabel("data variance λ")
            if j == 0:
                ax.set_ylabel("W2 gap to the optimum")
    axes[0, 0].legend(frameon=False, fontsize=7)
    fig.suptitle(f"error gap of the canonical strategies, T = {T} (floor = optimal; shaded: non-canonical optimum)",
                 fontsize=10)
    save_figure(fig, path, dpi=130)
    return path


def _lam_ticks(ax, lam: np.ndarray) -> None:
    """Readable λ ticks on a log axis: a few round values inside the data range, no minor labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    nice = [v for v in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0) if lam.min() <= v <= lam.max()] or [float(lam[0])]
    ax.xaxis.set_major_locator(FixedLocator(nice))
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _arc_choices(rows: list[dict], most: int = 4) -> list[tuple[str, Plan]]:
    """A few optima of one (schedule, s) slice: up to three non-canonical ones spread over λ, else
    the last BOOT and the first vanilla optimum."""
    schedules = sorted({r["schedule"] for r in rows}, key=lambda s: (s != "cosine", s))
    budgets = sorted({r["budget"] for r in rows}, key=lambda b: (abs(b - 6.4), b))
    sched, budget = schedules[0], budgets[0]
    sub = sorted((r for r in rows if r["schedule"] == sched and r["budget"] == budget), key=lambda r: r["lam"])
    nc = [r for r in sub if r["winner"] == NON_CANONICAL]
    picks = [nc[k] for k in sorted({round(x) for x in np.linspace(0, len(nc) - 1, min(3, len(nc)))})] if nc else []
    boots = [r for r in sub if r["winner"] == "boot"]
    vans = [r for r in sub if r["winner"] == "vanilla"]
    extra = ([boots[-1]] if boots else []) + ([vans[0]] if vans else [])
    chosen = sorted(picks + extra[: max(0, most - len(picks))], key=lambda r: r["lam"])
    out = []
    for r in chosen:
        plan = Plan.parse(r["plan"])
        out.append((f"T={r['teacher_steps']}, {sched}, s={budget:g}, λ={r['lam']:g}: {r['winner']} "
                    f"({plan.stages} stages, W2={r['opt_w2']:.2e})", plan))
    return out


# ---------------------------------------------------------------------------------- presets


def quick() -> Sweep:
    configs = grid(LinearSweepConfig, teacher_steps=list(PAPER_STEPS), schedule=list(SCHEDULE_NAMES), budget=list(BUDGETS),
                   lam=list(QUICK_LAMS))
    return Sweep("linear-sweep", configs, seeds=(0,))


def paper() -> Sweep:
    configs = grid(LinearSweepConfig, teacher_steps=list(PAPER_STEPS), schedule=list(SCHEDULE_NAMES), budget=list(BUDGETS),
                   lam=list(PAPER_LAMS))
    return Sweep("linear-sweep", configs, seeds=(0,))


STUDY = Study("linear-sweep", LinearSweepConfig, run, {"quick": quick, "paper": paper},
              figures=figures, tables=tables,
              description="Optimal merge plan vs the canonical strategies over T, s, schedule and λ (analytic model).")
