"""One entry point that picks the right planner and says which it used."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ...errors import DistillPlanError, check_int_at_least
from ..merge import MergeModel, evaluate_plan
from ..plan import Plan, check_steps
from ..strategies import STRATEGIES
from ..teacher import LinearTeacher
from .exhaustive import MAX_EXHAUSTIVE_STEPS, exhaustive_plan
from .oriented import check_stage_front, oriented_stage_tables, oriented_tables
from .pareto import pareto_dp
from .relaxed import relaxed_plan, supports
from .result import FrontPoint, PlannerResult

__all__ = ["optimal_plan", "coordinate_bounds", "SOLVERS", "MAX_DISTINCT_VARIANCES", "MAX_DP_ENTRIES",
           "MAX_RELAXED_ENTRIES", "CERTIFY_RTOL", "PARETO_FALLBACK_SECONDS", "PARETO_FALLBACK_GAP", "check_planner_size",
           "planner_seconds", "uses_relaxed"]

SOLVERS = ("auto", "dp", "relaxed", "pareto", "exhaustive")

CERTIFY_RTOL = 1e-9
"""A plan is certified optimal when its W2 exceeds a proven lower bound by at most this fraction."""
MAX_DISTINCT_VARIANCES = 256
"""Most distinct λ_i for the Pareto DP (stage budgets, the front, or a merge model other than the warm start;
it grows faster than d², about a minute at d = 256, T = 32; see :func:`planner_seconds`)."""
MAX_RELAXED_ENTRIES = 2**26
"""Most entries T(T+1)/2 · d of one table of the relaxed planner (three tables of 8 bytes each: 1.5 GiB)."""
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
_RELAXED_PER_CUBE = 2.5e-9
PARETO_FALLBACK_SECONDS = 120.0
PARETO_FALLBACK_GAP = 1e-6
"""The auto solver follows an uncertified relaxed plan with the Pareto DP only when the relaxed gap exceeds
this fraction of W2 and the Pareto DP is estimated to take at most :data:`PARETO_FALLBACK_SECONDS` (and its
tables fit); otherwise it returns the relaxed plan with its gap (at that size the Pareto DP prunes
approximately too, so it rarely certifies a smaller gap)."""


def uses_relaxed(distinct: int, model: MergeModel, max_stages: int | None = None, front: bool = False,
                 solver: str = "auto") -> bool:
    """Whether :func:`optimal_plan` plans ``distinct`` λ_i with the relaxed planner (diagonal Λ, warm start,
    no stage budget): the path that scales to thousands of distinct λ_i."""
    return distinct > 1 and supports(model) and max_stages is None and not front and solver in ("auto", "relaxed")


def check_planner_size(steps: int, distinct: int, dim: int | None = None, name: str = "lam", *,
                       relaxed: bool = False) -> None:
    """Raise (naming ``name``) if the teacher's (T+1) × ``dim`` arrays (all λ_i, equal ones included) exceed
    :data:`MAX_DP_ENTRIES`, or if ``distinct`` λ_i at T = ``steps`` are too many for the planner that runs:
    the relaxed planner (``relaxed``: tables of T(T+1)/2 · d entries, :data:`MAX_RELAXED_ENTRIES`) or the
    oriented and Pareto DPs (:data:`MAX_DISTINCT_VARIANCES`, tables of (T+1)² · d, :data:`MAX_DP_ENTRIES`)."""
    if dim is not None and (steps + 1) * dim > MAX_DP_ENTRIES:
        raise DistillPlanError(name, f"{dim} variances at T = {steps} need teacher arrays of {(steps + 1) * dim:.2e} "
                                     f"entries (at most {MAX_DP_ENTRIES:.2e})")
    if relaxed:
        entries = steps * (steps + 1) // 2 * distinct
        if entries > MAX_RELAXED_ENTRIES:
            most = MAX_RELAXED_ENTRIES // (steps * (steps + 1) // 2)
            raise DistillPlanError(name, f"{distinct} distinct variances at T = {steps} need planner tables of "
                                         f"{entries:.2e} entries (at most {MAX_RELAXED_ENTRIES:.2e}); use at most "
                                         f"{most} distinct values or fewer steps")
        return
    if distinct > MAX_DISTINCT_VARIANCES:
        raise DistillPlanError(name, f"{distinct} distinct variances; with a stage budget, the front or a merge model "
                                     f"other than the warm start the planner takes at most {MAX_DISTINCT_VARIANCES}")
    if (steps + 1) ** 2 * distinct > MAX_DP_ENTRIES:
        most = MAX_DP_ENTRIES // (steps + 1) ** 2
        raise DistillPlanError(name, f"{distinct} distinct variances at T = {steps} need a DP table of "
                                     f"{(steps + 1) ** 2 * distinct:.2e} entries (at most {MAX_DP_ENTRIES:.2e}); "
                                     f"use at most {most} distinct values or fewer steps")


def planner_seconds(steps: int, lam, relaxed: bool = False) -> tuple[float, float]:
    """Estimated wall time of :func:`optimal_plan` (auto solver) for T = ``steps`` and variances ``lam``:
    ``(with the DP alone, at worst with the Pareto DP)``, interpolated in T (log-log) from the
    measurements above. The Pareto DP is counted for diagonal Λ and for a scalar λ in (1, 1.75], which
    holds the window where it can run at T ≥ 8 (found over both schedules, s in [0.1, 30] and every
    init: only warm starts need it, within 1.27–1.62 at T = 8, 1.05–1.20 at T = 32, 1.0005–1.13 at 128;
    at T = 4 it reaches 2.3, where the Pareto DP takes milliseconds). With ``relaxed`` (diagonal Λ,
    warm start, no stage budget) the relaxed planner runs instead: about 2.5e-9·T³·d s (16384 λ_i:
    1.2 s at T = 32, 10 s at T = 64 on the 2-core Xeon).
    """
    uniq = np.unique(np.asarray(lam, dtype=np.float64))
    d = max(int(uniq.size), 1)
    if relaxed and d > 1:
        seconds = _RELAXED_PER_CUBE * steps**3 * d + 0.05
        pareto = _pareto_seconds(steps, d)
        return seconds, seconds + (pareto if _pareto_affordable(steps, d) else 0.0)
    per_pass = _loglog(_DP_PASS_SECONDS, steps) + _DP_PER_COORDINATE * steps**3 * (d - 1)
    if d == 1 and uniq[0] <= 1.0:
        return per_pass, per_pass
    dp = (3 if d == 1 else 2) * per_pass
    if d == 1 and uniq[0] > _PARETO_WINDOW_TOP:
        return dp, dp
    return dp, dp + _pareto_seconds(steps, d)


def _pareto_seconds(steps: int, distinct: int) -> float:
    """Estimated wall time of one Pareto DP run (measurements above)."""
    if distinct == 1:
        return _loglog(_PARETO_SCALAR_SECONDS, steps)
    return _loglog(_PARETO_PER_CUBE, distinct) * steps**3


def _pareto_affordable(steps: int, distinct: int) -> bool:
    """Whether the auto solver may follow an uncertified relaxed plan with the Pareto DP."""
    return (distinct <= MAX_DISTINCT_VARIANCES and (steps + 1) ** 2 * distinct <= MAX_DP_ENTRIES
            and _pareto_seconds(steps, distinct) <= PARETO_FALLBACK_SECONDS)


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

    * ``solver='auto'``: ``dp`` (the exact O(T³) oriented DP) for a scalar λ whose orientation is known —
      always the case when every teacher step contracts; for diagonal Λ under the warm start the
      ``relaxed`` planner (:mod:`.relaxed`: thousands of λ_i, certified when its bound meets the plan),
      then, when it leaves a gap above :data:`PARETO_FALLBACK_GAP` and the Pareto DP fits (at most
      :data:`MAX_DISTINCT_VARIANCES` λ_i, estimated under :data:`PARETO_FALLBACK_SECONDS`), the Pareto DP;
      otherwise
      the Pareto DP (``pareto``), certified when exact.
    * ``max_stages``: best plan with at most that many stages (a budget of T − 1 or more cannot bind and is
      ignored); ``front``: also the best W2 for every stage budget 1..K (``result.front``). Both come from
      one stage-indexed computation, so the front's row K is the answer for ``max_stages = K``, and the
      front never rises with K.
    """
    model = model or MergeModel()
    if solver not in SOLVERS:
        raise DistillPlanError("solver", f"unknown solver {solver!r}; choose from {list(SOLVERS)}")
    T = check_steps(teacher.steps)
    if max_stages is not None:
        max_stages = check_int_at_least("max_stages", max_stages, 1)
        if max_stages >= T - 1:  # every plan has at most T − 1 stages: the budget cannot bind
            max_stages = None
    distinct = int(np.unique(teacher.lam).size)
    check_planner_size(T, distinct, teacher.dim, relaxed=uses_relaxed(distinct, model, max_stages, front, solver))
    c_full = np.ones(teacher.dim) if weights is None else np.asarray(weights, dtype=np.float64)
    if c_full.shape != (teacher.dim,) or np.any(c_full < 0) or not np.all(np.isfinite(c_full)):
        raise DistillPlanError("weights", f"must be {teacher.dim} finite non-negative numbers")
    t0 = time.perf_counter()

    if solver == "exhaustive":
        if T > MAX_EXHAUSTIVE_STEPS:
            raise DistillPlanError("solver", f"exhaustive enumeration needs T <= {MAX_EXHAUSTIVE_STEPS}, got {T}")
        return _finish(exhaustive_plan(teacher, model, max_stages=max_stages, weights=weights), t0)

    def evaluate(plan: Plan):
        return evaluate_plan(plan, teacher, model, weights)

    uniq, inverse = np.unique(teacher.lam, return_inverse=True)
    c = np.bincount(inverse, weights=c_full)
    red = LinearTeacher(teacher.schedule, uniq) if uniq.size < teacher.dim else teacher
    problem = _Problem(red, c, model, cap, evaluate)
    if max_stages is not None or front:
        return _finish(problem.staged(max_stages, front, solver), t0)
    return _finish(problem.unconstrained(solver), t0)


class _Problem:
    """One planning problem on the distinct λ_i (weights ``c``), with ``evaluate`` on the user's full Λ."""

    def __init__(self, teacher: LinearTeacher, c: np.ndarray, model: MergeModel, cap: int | None, evaluate):
        self.teacher, self.c, self.model, self.cap, self.evaluate = teacher, c, model, cap, evaluate
        self.T = teacher.steps
        self.P, self.r2T = teacher.surrogate(), teacher.r2[-1]
        self._bounds = None

    @property
    def bounds(self):
        """:func:`coordinate_bounds` (computed once)."""
        if self._bounds is None:
            self._bounds = coordinate_bounds(self.teacher, self.model)
        return self._bounds

    def ideal(self) -> float:
        """The ideal point: a lower bound on W2, each coordinate at its own best root value."""
        lo, hi, orient, _, _ = self.bounds
        gap = np.where(orient > 0, lo - self.P, np.where(orient < 0, self.P - hi, 0.0))
        return float(np.sqrt(np.sum(self.c * self.r2T * gap**2)))

    # -- no stage budget ----------------------------------------------------------------------
    def unconstrained(self, solver: str) -> PlannerResult:
        red, c, P = self.teacher, self.c, self.P
        if red.dim == 1 and solver in ("auto", "dp"):
            tmin = oriented_tables(red, self.model, 1.0)
            if tmin.root[0] >= P[0]:  # even the smallest root is ≥ P*: lower is better, one DP is exact
                bound = float(np.sqrt(c[0] * self.r2T[0]) * (tmin.root[0] - P[0]))
                stats = {"distinct_lambdas": 1, "oriented": 1, "lower_bound": bound}
                return self._result(self.evaluate(tmin.plan(0)), "dp", bound, exact=True, stats=stats)
        relaxed = None
        if red.dim > 1 and supports(self.model) and solver in ("auto", "relaxed"):
            relaxed = self._relaxed()
            if (relaxed.certified or solver == "relaxed" or relaxed.gap_bound <= PARETO_FALLBACK_GAP * relaxed.w2
                    or not _pareto_affordable(self.T, red.dim)):
                return relaxed
        elif solver == "relaxed":
            raise DistillPlanError("solver", "the relaxed planner needs several distinct λ_i and the warm-start "
                                             "model (init warm, rate normalized); use auto or pareto")
        lo, hi, orient, tmin, tmax = self.bounds
        ideal = self.ideal()
        stats = {"distinct_lambdas": int(red.dim), "oriented": int(np.count_nonzero(orient)), "lower_bound": ideal}
        scalar_oriented = red.dim == 1 and orient[0] != 0
        if solver == "dp" and not scalar_oriented:
            raise DistillPlanError("solver", "the O(T^3) DP is exact only for a scalar λ whose plans all lie on one "
                                             "side of the surrogate (e.g. every teacher step contracts); use auto or "
                                             "pareto")
        if scalar_oriented:
            tables = tmin if orient[0] > 0 else tmax
            return self._result(self.evaluate(tables.plan(0)), "dp", ideal, exact=True, stats=stats)
        if relaxed is None and np.all(orient != 0):
            # Ideal point: if one coordinate's own optimal plan is optimal for all, it is certified.
            plans = {}
            for i in range(red.dim):
                p = (tmin if orient[i] > 0 else tmax).plan(i)
                plans.setdefault(p.to_text(), p)
            best = min((self.evaluate(p) for p in plans.values()), key=lambda ev: ev.w2)
            if best.w2 <= ideal * (1 + CERTIFY_RTOL) + 1e-300:
                return self._result(best, "ideal-point", ideal, exact=True, stats=stats)
        out = pareto_dp(red, self.model, orient, c, cap=self.cap)
        ev = self.evaluate(out.plan)
        if out.approximate:  # approximate pruning may lose a plan a simpler rule finds
            ev = min([ev, *(self.evaluate(p) for p in _incumbents(self.T, None, orient, tmin, tmax))],
                     key=lambda e: e.w2)
        stats.update(candidates=out.candidates, log_bound=out.delta)
        bound = ideal
        if out.approximate:  # W2(found) − W2(optimal) ≤ (e^δ − 1)·max root norm: a lower bound too
            bound = max(bound, ev.w2 - float(np.expm1(out.delta) * np.sqrt(np.sum(c * self.r2T * hi**2))))
        result = self._result(ev, "pareto", bound, exact=not out.approximate, stats=stats)
        return result if relaxed is None else self._better(result, relaxed)

    def _relaxed(self) -> PlannerResult:
        start = min((build(self.T) for build in STRATEGIES.values()),
                    key=lambda p: evaluate_plan(p, self.teacher, self.model, self.c).w2)
        out = relaxed_plan(self.teacher, self.model, self.c, start=start, rtol=CERTIFY_RTOL)
        stats = {"distinct_lambdas": int(self.teacher.dim), "lower_bound": out.lower_bound,
                 "iterations": out.iterations}
        return self._result(self.evaluate(out.plan), "relaxed", out.lower_bound, exact=False, stats=stats)

    # -- stage budgets and the front -----------------------------------------------------------
    def staged(self, max_stages: int | None, front: bool, solver: str) -> PlannerResult:
        """Best plan per stage budget k from one stage-indexed computation; the answer is row ``max_stages``
        (or the unconstrained optimum when only the front is asked for)."""
        red, c, P = self.teacher, self.c, self.P
        unconstrained = self.unconstrained("auto" if solver == "relaxed" else solver)
        K = self.T - 1 if max_stages is None else max_stages
        lo, hi, orient, _, _ = self.bounds
        if red.dim == 1 and orient[0] != 0 and solver in ("auto", "dp"):
            check_stage_front(self.T, K)
            st = oriented_stage_tables(red, self.model, float(orient[0]), K)
            per_k = {k: (float(np.sqrt(c[0] * self.r2T[0]) * abs(st.root[k] - P[0])), st.plan(k))
                     for k in range(1, K + 1) if np.isfinite(st.root[k])}
            exact, solver_name, log_bound = True, "dp", 0.0
        else:
            out = pareto_dp(red, self.model, orient, c, cap=self.cap, front=True)
            per_k = {k: v for k, v in out.front.items() if k <= K}
            exact, solver_name, log_bound = not out.approximate, "pareto", out.delta
        rows = _cumulative(per_k, self.evaluate, unconstrained, K)
        if max_stages is None:
            chosen = unconstrained
        else:
            row = rows[-1]
            # The optimum under a budget is at least the unconstrained optimum's lower bound.
            bound = row.w2 if exact else max(self.ideal(), unconstrained.lower_bound,
                                              row.w2 - float(np.expm1(log_bound) * np.sqrt(np.sum(c * self.r2T * hi**2))))
            chosen = self._result(self.evaluate(row.plan), solver_name, bound, exact=exact,
                                  stats=dict(unconstrained.stats))
        return replace(chosen, front=tuple(rows) if front else ())

    # -- results ---------------------------------------------------------------------------------
    def _result(self, ev, solver: str, bound: float, *, exact: bool, stats: dict) -> PlannerResult:
        """A result with its certificate: exact, or certified when the bound meets W2, else the gap and a note."""
        bound = min(max(bound, 0.0), ev.w2)
        certified = exact or ev.w2 - bound <= CERTIFY_RTOL * ev.w2
        gap = 0.0 if certified else ev.w2 - bound
        return PlannerResult(ev, solver, certified, gap, (), stats, bound if not exact else ev.w2,
                             self._note(ev, solver, certified, bound))

    def _note(self, ev, solver: str, certified: bool, bound: float) -> str:
        floor = _rounding_floor(self.teacher, self.c)
        precision = f"W2 is computed to ±{floor:.1e} (float64 rounding of a {self.T}-fold product)"
        if certified:
            how = {"dp": "exact DP", "ideal-point": "ideal point", "pareto": "exact Pareto DP",
                   "relaxed": "relaxation bound", "exhaustive": "exhaustive enumeration"}.get(solver, solver)
            return f"certified optimal ({how}); {precision}"
        if bound <= floor:
            lo, hi, orient, _, _ = self.bounds
            mixed = int(np.count_nonzero(orient == 0))
            return (f"no positive lower bound: for {mixed} of {self.teacher.dim} distinct λ the plans' root values "
                    f"range over an interval that contains the surrogate P* (plans above and below it), so no "
                    f"relaxation separates the optimum from 0; the plan is the best the {solver} planner found, "
                    f"within {ev.w2:.2e} of the optimum at most; {precision}")
        text = (f"best found by the {solver} planner; the optimum is at least {bound:.4e}, so this W2 is within "
                f"{ev.w2 - bound:.2e} ({100 * (ev.w2 - bound) / ev.w2:.3g}%) of it; {precision}")
        d = self.teacher.dim
        if solver == "relaxed" and d <= MAX_DISTINCT_VARIANCES and (self.T + 1) ** 2 * d <= MAX_DP_ENTRIES:
            text += f"; the Pareto DP (solver pareto) would take about {_pareto_seconds(self.T, d):.0f} s"
        return text

    def _better(self, a: PlannerResult, b: PlannerResult) -> PlannerResult:
        """The lower-W2 result, certified by the better of the two lower bounds."""
        best = a if a.w2 <= b.w2 else b
        return self._result(best.evaluation, best.solver, max(a.lower_bound, b.lower_bound), exact=best.certified
                            and best.gap_bound == 0.0 and best.lower_bound == best.w2, stats=best.stats)


def _rounding_floor(teacher: LinearTeacher, c: np.ndarray) -> float:
    """Absolute float64 rounding of W2 = ‖r_T (M − P*)‖: each of the ≤ 2T multiplications along a plan
    rounds M by ε relative, so about 8·T·ε·‖r_T P*‖."""
    scale = float(np.sqrt(np.sum(c * teacher.r2[-1] * teacher.surrogate() ** 2)))
    return 8 * teacher.steps * float(np.finfo(np.float64).eps) * scale


def _incumbents(T: int, max_stages, orient, tmin, tmax) -> list[Plan]:
    """Canonical strategies and every coordinate's own optimal plan (when it is known exactly)."""
    plans = [STRATEGIES[name](T) for name in STRATEGIES]
    for i in np.flatnonzero(orient != 0):
        plans.append((tmin if orient[i] > 0 else tmax).plan(int(i)))
    return [p for p in plans if max_stages is None or p.stages <= max_stages]


def _cumulative(per_k: dict[int, tuple[float, Plan]], evaluate, unconstrained: PlannerResult,
                K: int) -> list[FrontPoint]:
    """Best W2 with at most k stages for every k = 1..K: a non-increasing front, re-evaluated on the full Λ;
    the unconstrained optimum counts from its own stage count on (a k missing from ``per_k`` was dominated
    by fewer stages)."""
    pts: list[FrontPoint] = []
    best: tuple[float, Plan] | None = None
    for k in range(1, K + 1):
        options = [per_k[k]] if k in per_k else []
        if unconstrained.plan.stages <= k:
            options.append((unconstrained.w2, unconstrained.plan))
        for w2, plan in options:
            ev = evaluate(plan)
            if best is None or ev.w2 < best[0]:
                best = (ev.w2, ev.plan)
        if best is not None:
            pts.append(FrontPoint(k, best[0], best[1]))
    return pts


def _finish(res: PlannerResult, t0: float) -> PlannerResult:
    res.stats["seconds"] = time.perf_counter() - t0
    return res
