"""One entry point that picks the right planner and says which it used."""

from __future__ import annotations

import time

import numpy as np

from ...errors import DistillPlanError, check_int_at_least
from ..merge import MergeModel, evaluate_plan, w2_to_surrogate
from ..plan import Plan, check_steps
from ..strategies import STRATEGIES
from ..teacher import LinearTeacher
from .exhaustive import MAX_EXHAUSTIVE_STEPS, exhaustive_plan
from .oriented import oriented_stage_tables, oriented_tables
from .pareto import pareto_dp
from .result import FrontPoint, PlannerResult

__all__ = ["optimal_plan", "coordinate_bounds", "SOLVERS", "MAX_DISTINCT_VARIANCES", "MAX_DP_ENTRIES",
           "check_planner_size", "planner_seconds"]

SOLVERS = ("auto", "dp", "pareto", "exhaustive")

MAX_DISTINCT_VARIANCES = 256
"""Most distinct λ_i one plan is optimised for (the Pareto DP grows faster than d², about a minute at
d = 256, T = 32; see :func:`planner_seconds`)."""
MAX_DP_ENTRIES = 2**25
"""Most entries (T+1)²·d of one oriented DP table (32 bytes each over its five arrays: 1 GiB)."""

# Wall time of optimal_plan on the development machine: 2 shared AMD EPYC cores, numpy 2.4, cosine
# schedule, s = 6.4 (``distillplan plan --lam L --steps T``, or --variances with d log-spaced λ_i):
# * one oriented DP pass -- table below (λ = 0.5: 0.23 s at T = 512, 1.2 s at 1024, 8.5 s at 2048, 55 s
#   at 4096). λ ≤ 1 needs one pass, any other scalar λ three (λ = 2: 2.3 s at T = 1024, 20.5 s at 2048),
#   d > 1 distinct λ_i two plus the ideal-point check, each pass about 1.3e-9·T³ s more per extra λ_i
#   (1000 λ_i in [0.05, 0.9]: 0.23 s at T = 32, 5.5 s at T = 128);
# * the Pareto DP, which runs only when some λ_i lies in a narrow window just above 1 (or the ideal
#   point fails). Scalar λ in the window -- table below (λ = 1.08 at T = 32: 1.5 s, 1.05 at 64: 2.9 s,
#   1.025 at 128: 12 s, 1.015 at 256: 126 s). d λ_i log-spaced in [0.05, 5] -- about c(d)·T³ s with c
#   from the table below: d = 30: 6.2 s at T = 64, 43 s at 128; d = 100: 6.1 s at T = 32, 46 s at 64;
#   d = 300: 98 s at T = 32; d = 1000: over 10 min at T = 32.
_DP_PASS_SECONDS = ((64, 0.01), (128, 0.02), (256, 0.08), (512, 0.23), (1024, 1.2), (2048, 8.5), (4096, 55.0))
_DP_PER_COORDINATE = 1.3e-9
_PARETO_SCALAR_SECONDS = ((32, 1.5), (64, 2.9), (128, 12.0), (256, 126.0))
_PARETO_PER_CUBE = ((30, 2.2e-5), (100, 1.8e-4), (300, 3.0e-3))
_PARETO_WINDOW_TOP = 1.75


def check_planner_size(steps: int, distinct: int, dim: int | None = None, name: str = "lam") -> None:
    """Raise (naming ``name``) if ``distinct`` λ_i at T = ``steps`` exceed :data:`MAX_DISTINCT_VARIANCES`
    or make a DP table larger than :data:`MAX_DP_ENTRIES`, or if the teacher's (T+1) × ``dim`` arrays
    (all λ_i, equal ones included) would be larger than that."""
    if dim is not None and (steps + 1) * dim > MAX_DP_ENTRIES:
        raise DistillPlanError(name, f"{dim} variances at T = {steps} need teacher arrays of {(steps + 1) * dim:.2e} "
                                     f"entries (at most {MAX_DP_ENTRIES:.2e})")
    if distinct > MAX_DISTINCT_VARIANCES:
        raise DistillPlanError(name, f"{distinct} distinct variances; the planner takes at most "
                                     f"{MAX_DISTINCT_VARIANCES}")
    if (steps + 1) ** 2 * distinct > MAX_DP_ENTRIES:
        most = MAX_DP_ENTRIES // (steps + 1) ** 2
        raise DistillPlanError(name, f"{distinct} distinct variances at T = {steps} need a DP table of "
                                     f"{(steps + 1) ** 2 * distinct:.2e} entries (at most {MAX_DP_ENTRIES:.2e}); "
                                     f"use at most {most} distinct values or fewer steps")


def planner_seconds(steps: int, lam) -> tuple[float, float]:
    """Estimated wall time of :func:`optimal_plan` (auto solver) for T = ``steps`` and variances ``lam``:
    ``(with the DP alone, at worst with the Pareto DP)``, interpolated in T (log-log) from the
    measurements above. The Pareto DP is counted for diagonal Λ and for a scalar λ in (1, 1.75], which
    holds the window where it can run at T ≥ 8 (found over both schedules, s in [0.1, 30] and every
    init: only warm starts need it, within 1.27–1.62 at T = 8, 1.05–1.20 at T = 32, 1.0005–1.13 at 128;
    at T = 4 it reaches 2.3, where the Pareto DP takes milliseconds).
    """
    uniq = np.unique(np.asarray(lam, dtype=np.float64))
    d = max(int(uniq.size), 1)
    per_pass = _loglog(_DP_PASS_SECONDS, steps) + _DP_PER_COORDINATE * steps**3 * (d - 1)
    if d == 1 and uniq[0] <= 1.0:
        return per_pass, per_pass
    dp = (3 if d == 1 else 2) * per_pass
    if d == 1 and uniq[0] > _PARETO_WINDOW_TOP:
        return dp, dp
    pareto = _loglog(_PARETO_SCALAR_SECONDS, steps) if d == 1 else _loglog(_PARETO_PER_CUBE, d) * steps**3
    return dp, dp + pareto


def _loglog(table, x: float) -> float:
    """Piecewise log-log interpolation of ``table`` ((x, y) pairs, x increasing), extrapolated by the end slopes."""
    xs, ys = np.log([p[0] for p in table]), np.log([p[1] for p in table])
    lx = np.log(x)
    i = int(np.clip(np.searchsorted(xs, lx) - 1, 0, len(xs) - 2))
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    return float(np.exp(ys[i] + slope * (lx - xs[i])))


def coordinate_bounds(teacher: LinearTeacher, model: MergeModel):
    """Exact per-coordinate range [min, max] of the root value over all plans, and the orientation:
    +1 when every plan's root is ≥ P* (lower is better), −1 when ≤ P*, 0 otherwise."""
    tmin = oriented_tables(teacher, model, 1.0)
    tmax = oriented_tables(teacher, model, -1.0)
    P = teacher.surrogate()
    lo, hi = tmin.root, tmax.root
    orient = np.where(lo >= P, 1.0, np.where(hi <= P, -1.0, 0.0))
    return lo, hi, orient, tmin, tmax


def optimal_plan(teacher: LinearTeacher, model: MergeModel | None = None, *, weights=None,
                 max_stages: int | None = None, front: bool = False, solver: str = "auto",
                 cap: int | None = None) -> PlannerResult:
    """The merge plan minimising W2 to the surrogate, sqrt(Σ_i c_i r_{T,i}² (M_i(root) − P*_i)²).

    One plan serves every coordinate. Equal λ_i are merged (their weights c_i add up).

    * ``solver='auto'``: ``dp`` (the exact O(T³) oriented DP) for a scalar λ whose orientation is
      known — always the case when every teacher step contracts; otherwise a fast ideal-point
      certificate for diagonal Λ; otherwise the Pareto DP (``pareto``), certified when exact.
    * ``max_stages``: best plan with at most that many stages; ``front``: also the best W2 for every
      stage budget 1..K (``result.front``).
    """
    model = model or MergeModel()
    if solver not in SOLVERS:
        raise DistillPlanError("solver", f"unknown solver {solver!r}; choose from {list(SOLVERS)}")
    T = check_steps(teacher.steps)
    check_planner_size(T, int(np.unique(teacher.lam).size), teacher.dim)
    if max_stages is not None:
        max_stages = check_int_at_least("max_stages", max_stages, 1)
    c_full = np.ones(teacher.dim) if weights is None else np.asarray(weights, dtype=np.float64)
    if c_full.shape != (teacher.dim,) or np.any(c_full < 0) or not np.all(np.isfinite(c_full)):
        raise DistillPlanError("weights", f"must be {teacher.dim} finite non-negative numbers")
    t0 = time.perf_counter()

    if solver == "exhaustive":
        if T > MAX_EXHAUSTIVE_STEPS:
            raise DistillPlanError("solver", f"exhaustive enumeration needs T <= {MAX_EXHAUSTIVE_STEPS}, got {T}")
        res = exhaustive_plan(teacher, model, max_stages=max_stages, weights=weights)
        return _finish(res, t0)

    def evaluate(plan: Plan):
        return evaluate_plan(plan, teacher, model, weights)

    uniq, inverse = np.unique(teacher.lam, return_inverse=True)
    c = np.bincount(inverse, weights=c_full)
    red = LinearTeacher(teacher.schedule, uniq) if uniq.size < teacher.dim else teacher
    P, r2T = red.surrogate(), red.r2[-1]
    if red.dim == 1 and solver in ("auto", "dp") and max_stages is None and not front:
        # Fast path (one DP): when even the smallest root value is ≥ P*, lower is better.
        tmin = oriented_tables(red, model, 1.0)
        if tmin.root[0] >= P[0]:
            stats = {"distinct_lambdas": 1, "oriented": 1, "lower_bound": float(np.sqrt(c[0] * r2T[0]) * (tmin.root[0] - P[0]))}
            return _finish(PlannerResult(evaluate(tmin.plan(0)), "dp", True, 0.0, (), stats), t0)
    lo, hi, orient, tmin, tmax = coordinate_bounds(red, model)
    ideal = float(np.sqrt(np.sum(c * r2T * np.where(orient > 0, lo - P, np.where(orient < 0, P - hi, 0.0)) ** 2)))
    stats = {"distinct_lambdas": int(uniq.size), "oriented": int(np.count_nonzero(orient)),
             "lower_bound": ideal}

    scalar_oriented = red.dim == 1 and orient[0] != 0
    if solver == "dp" and not scalar_oriented:
        raise DistillPlanError("solver", "the O(T^3) DP is exact only for a scalar λ whose plans all lie on one "
                                         "side of the surrogate (e.g. every teacher step contracts); use auto or pareto")

    if scalar_oriented and solver in ("auto", "dp"):
        sign = float(orient[0])
        if max_stages is None and not front:
            tables = tmin if sign > 0 else tmax
            return _finish(PlannerResult(evaluate(tables.plan(0)), "dp", True, 0.0, (), stats), t0)
        K = min(max_stages or T - 1, T - 1)
        st = oriented_stage_tables(red, model, sign, K)
        per_k = {k: float(np.sqrt(c[0] * r2T[0]) * abs(st.root[k] - P[0]))
                 for k in range(1, K + 1) if np.isfinite(st.root[k])}
        pts = _cumulative(per_k, st.plan, evaluate)
        best = pts[-1]
        return _finish(PlannerResult(evaluate(best.plan), "dp", True, 0.0, tuple(pts) if front else (), stats), t0)

    if solver == "auto" and max_stages is None and not front and np.all(orient != 0):
        # Ideal point: if one coordinate's own optimal plan is optimal for all, it is certified.
        candidates = {}
        for i in range(red.dim):
            tables = tmin if orient[i] > 0 else tmax
            p = tables.plan(i)
            candidates.setdefault(p.to_text(), p)
        scored = [(float(w2_to_surrogate(red, evaluate_plan(p, red, model).root, c)), p) for p in candidates.values()]
        w2, p = min(scored, key=lambda s: s[0])
        if w2 <= ideal * (1 + 1e-12) + 1e-300:
            return _finish(PlannerResult(evaluate(p), "ideal-point", True, 0.0, (), stats), t0)

    out = pareto_dp(red, model, orient, c, max_stages=max_stages, cap=cap, front=front)
    ev = evaluate(out.plan)
    if out.approximate:
        # Approximate pruning may lose a plan a simpler rule finds: never return worse than those.
        for p in _incumbents(T, max_stages, orient, tmin, tmax):
            cand = evaluate(p)
            if cand.w2 < ev.w2:
                ev = cand
    stats.update(candidates=out.candidates, log_bound=out.delta)
    certified = (not out.approximate) or ev.w2 <= ideal * (1 + 1e-12)
    eps_bound = float(np.expm1(out.delta) * np.sqrt(np.sum(c * r2T * hi**2)))
    gap = 0.0 if certified else min(eps_bound, ev.w2 - ideal)
    pts = tuple(_cumulative({k: v[0] for k, v in out.front.items()}, lambda k: out.front[k][1], evaluate)) if front else ()
    return _finish(PlannerResult(ev, "pareto", certified, gap, pts, stats), t0)


def _incumbents(T: int, max_stages, orient, tmin, tmax) -> list[Plan]:
    """Canonical strategies and every coordinate's own optimal plan (when it is known exactly)."""
    plans = [STRATEGIES[name](T) for name in STRATEGIES]
    for i in np.flatnonzero(orient != 0):
        plans.append((tmin if orient[i] > 0 else tmax).plan(int(i)))
    return [p for p in plans if max_stages is None or p.stages <= max_stages]


def _cumulative(per_k: dict[int, float], plan_of, evaluate) -> list[FrontPoint]:
    """Best W2 with at most k stages for every k (a non-increasing front), re-evaluated on the full Λ."""
    pts: list[FrontPoint] = []
    best = None
    for k in sorted(per_k):
        if best is None or per_k[k] < best[0]:
            ev = evaluate(plan_of(k))
            best = (per_k[k], ev.w2, ev.plan)
        pts.append(FrontPoint(k, best[1], best[2]))
    return pts


def _finish(res: PlannerResult, t0: float) -> PlannerResult:
    res.stats["seconds"] = time.perf_counter() - t0
    return res
