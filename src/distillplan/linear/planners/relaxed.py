"""Certified merge plans for a diagonal Λ with thousands of distinct λ_i: a convex relaxation in log-error space.

**Exact decomposition** (warm start, normalised rate, w = e^{−s}). A node over [a → b] whose first child covers
[a → m] and whose other children (the *rest*) cover [m → b] has the value M = x (w + (1 − w) y), with x the
first child's value and y the product of the rest's values. The leaves multiply to the surrogate P*, so per
coordinate

    e(p) := log M_root(p) − log P* = Σ_{nodes n of p} φ(y_n),      φ(y) = log(w + (1 − w) y) − log y,

and φ is decreasing. When the rest is all leaves, y_n is the teacher composite P(m, b), known exactly; when
it holds a node, y_n lies in [Q⁻(m, b), Q⁺(m, b)], the exact range of every block sequence over [m → b] with
at least one node (a min/max DP; every value is increasing in its children's). Hence every plan's
log-error vector lies in a box [z⁻(p), z⁺(p)] whose ends are *additive over nodes*, with node costs that
depend only on (m, b) and on whether the rest is all leaves.

**Relaxation.** W2²(p) = Σ_i W_i (e^{e_i(p)} − 1)², W_i = c_i r_{T,i}² P*_i², so

    W2²(p) ≥ Ψ(z⁻(p), z⁺(p)),   Ψ(z⁻, z⁺) = Σ_i W_i [h(max(z⁻_i, 0)) + h(min(z⁺_i, 0))],   h(e) = (e^e − 1)²,

with equality when every node's rest is all leaves. Ψ is convex and differentiable, so over the convex hull
C of the plans' (z⁻, z⁺) vectors Frank–Wolfe's linear step — an exact O(T³) DP with additive node costs —
gives at every iterate z_k the lower bound

    min_p W2²(p) ≥ min_C Ψ ≥ Ψ(z_k) + ⟨∇Ψ(z_k), s_k − z_k⟩,      s_k = argmin_{p} ⟨∇Ψ(z_k), z(p)⟩.

Every s_k is a plan; its exact W2 is the upper bound. The certificate is the gap between the best plan's W2
and the square root of the best lower bound. Measured (log-normal spectra, T = 32): the bound meets the
best plan to rounding, i.e. the relaxation is tight, for 256 and 1024 distinct λ_i.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ...errors import DistillPlanError
from ..merge import MergeModel, evaluate_plan
from ..plan import Plan, plan_from_expansion
from ..teacher import LinearTeacher

__all__ = ["RelaxedOutcome", "relaxed_plan", "supports"]

_CHUNK_ELEMENTS = 2**22  # coordinates per chunk of the range DP: (T+1)² · chunk values per table


@dataclass(frozen=True)
class RelaxedOutcome:
    """The best plan found, its exact W2, the certified lower bound on the optimal W2, and the work done."""

    plan: Plan
    w2: float
    lower_bound: float
    iterations: int
    seconds: float

    @property
    def gap(self) -> float:
        """W2(plan) − lower bound ≥ W2(plan) − W2(optimal) ≥ 0."""
        return max(self.w2 - self.lower_bound, 0.0)


def supports(model: MergeModel) -> bool:
    """The decomposition needs w independent of the coordinate and m(0) = the first child: warm start,
    normalised rate."""
    return model.init == "warm" and model.rate == "normalized"


def relaxed_plan(teacher: LinearTeacher, model: MergeModel, weights: np.ndarray, *, start: Plan | None = None,
                 rtol: float = 1e-9, max_iter: int = 300, time_limit: float = 600.0) -> RelaxedOutcome:
    """Frank–Wolfe on the relaxation of the module docstring; stops when the gap is below ``rtol`` · W2.

    ``weights`` are the coordinates' multiplicities c_i; ``start`` is the first iterate (default BOOT).
    """
    if not supports(model):
        raise DistillPlanError("model", "the relaxed planner needs init='warm' and rate='normalized'")
    t0 = time.perf_counter()
    T = teacher.steps
    w = float(np.exp(-model.budget))
    tables = _PhiTables.build(teacher, w)
    P = teacher.surrogate()
    W = np.asarray(weights, dtype=np.float64) * teacher.r2[-1] * P * P

    def value(zlo: np.ndarray, zhi: np.ndarray) -> float:
        return float(np.sum(W * (_h(np.maximum(zlo, 0.0)) + _h(np.minimum(zhi, 0.0)))))

    def gradient(zlo: np.ndarray, zhi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return W * _dh(np.maximum(zlo, 0.0)), W * _dh(np.minimum(zhi, 0.0))

    def exact_w2(plan: Plan) -> float:
        return evaluate_plan(plan, teacher, model, weights).w2

    if start is None:
        from ..strategies import boot

        start = boot(T)
    best_plan, best_w2 = start, exact_w2(start)
    zlo, zhi = tables.vector(_nodes_of(start))
    lower = 0.0
    k = 0
    for k in range(1, max_iter + 1):
        glo, ghi = gradient(zlo, zhi)
        plan, nodes, linear = _oracle(tables.costs(glo, ghi), T)
        f = value(zlo, zhi)
        lower = max(lower, f + linear - float(glo @ zlo + ghi @ zhi))
        slo, shi = tables.vector(nodes)
        w2 = exact_w2(plan)
        if w2 < best_w2:
            best_plan, best_w2 = plan, w2
        if best_w2 - np.sqrt(max(lower, 0.0)) <= rtol * best_w2 or time.perf_counter() - t0 > time_limit:
            break
        if lower >= f * (1.0 - 1e-12):  # the relaxation's minimum is reached: more steps cannot raise the bound
            break
        gamma = _line_search(lambda g: value(zlo + g * (slo - zlo), zhi + g * (shi - zhi)))
        zlo, zhi = zlo + gamma * (slo - zlo), zhi + gamma * (shi - zhi)
    bound = float(np.sqrt(max(lower, 0.0))) * (1.0 - 1e-12)  # float64 rounding of the sums
    return RelaxedOutcome(best_plan, best_w2, min(bound, best_w2), k, time.perf_counter() - t0)


# ------------------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class _PhiTables:
    """φ per coordinate for every rest interval [m → b] (pair index ``index[m, b]``): at the teacher
    composite (all-leaf rest) and at the ends of the with-node range, rows of shape (d,)."""

    index: np.ndarray  # (T+1, T+1) → pair row, −1 where m ≤ b
    at_teacher: np.ndarray  # (pairs, d): φ(P(m, b))
    low: np.ndarray  # (pairs, d): φ(Q⁺(m, b)) (NaN where no rest with a node exists)
    high: np.ndarray  # (pairs, d): φ(Q⁻(m, b))

    @classmethod
    def build(cls, teacher: LinearTeacher, w: float) -> "_PhiTables":
        T, d = teacher.steps, teacher.dim
        index = np.full((T + 1, T + 1), -1, dtype=np.int64)
        pairs = [(m, b) for m in range(T + 1) for b in range(T + 1) if m > b]  # row-major, as a boolean mask orders
        for row, (m, b) in enumerate(pairs):
            index[m, b] = row
        at_teacher = np.empty((len(pairs), d))
        low = np.full((len(pairs), d), np.nan)
        high = np.full((len(pairs), d), np.nan)
        ms, bs = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        chunk = max(1, _CHUNK_ELEMENTS // ((T + 1) ** 2))
        for lo in range(0, d, chunk):
            cols = slice(lo, min(d, lo + chunk))
            comp, q_min, q_max = _sequence_ranges(teacher.step[:, cols], w)
            at_teacher[:, cols] = _phi(comp[ms, bs], w)
            with np.errstate(invalid="ignore"):
                low[:, cols] = _phi(q_max[ms, bs], w)
                high[:, cols] = _phi(q_min[ms, bs], w)
        return cls(index, at_teacher, low, high)

    def costs(self, glo: np.ndarray, ghi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Linear node costs ``(all-leaf rest, rest with a node)`` on the (T+1, T+1) grid of rests [m → b]."""
        c0 = np.full(self.index.shape, np.inf)
        cp = np.full(self.index.shape, np.inf)
        valid = self.index >= 0
        c0[valid] = self.at_teacher @ (glo + ghi)
        plus = valid & (np.arange(self.index.shape[0])[:, None] - np.arange(self.index.shape[1])[None, :] >= 2)
        rows = self.index[plus]
        cp[plus] = self.low[rows] @ glo + self.high[rows] @ ghi
        return c0, cp

    def vector(self, nodes: list[tuple[int, int, bool]]) -> tuple[np.ndarray, np.ndarray]:
        """``(z⁻, z⁺)`` of a plan from its nodes' ``(m, b, rest is all leaves)``."""
        d = self.at_teacher.shape[1]
        zlo, zhi = np.zeros(d), np.zeros(d)
        for m, b, all_leaves in nodes:
            row = self.index[m, b]
            if all_leaves:
                zlo += self.at_teacher[row]
                zhi += self.at_teacher[row]
            else:
                zlo += self.low[row]
                zhi += self.high[row]
        return zlo, zhi


def _sequence_ranges(step: np.ndarray, w: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Teacher composites P[a, b] and the exact [min, max] of every block sequence over [a → b] with at least
    one node (NaN for one-step intervals), per coordinate: arrays of shape (T+1, T+1, d).

    Node ranges follow from monotonicity: x(w + (1 − w)y) is increasing in the first child's value x and the
    rest's value y, so its extremes over a split come from the extremes of x and y.
    """
    T, d = step.shape[0] - 1, step.shape[1]
    comp = np.full((T + 1, T + 1, d), np.nan)
    for b in range(T):
        comp[b + 1 :, b] = np.cumprod(step[b + 1 :], axis=0)
    node_min = np.full_like(comp, np.nan)
    node_max = np.full_like(comp, np.nan)
    plus_min = np.full_like(comp, np.nan)  # sequences with at least one node
    plus_max = np.full_like(comp, np.nan)
    for length in range(2, T + 1):
        b = np.arange(0, T - length + 1)
        a = b + length
        v_lo = np.full((b.size, d), np.inf)
        v_hi = np.full((b.size, d), -np.inf)
        s_lo = np.full((b.size, d), np.inf)
        s_hi = np.full((b.size, d), -np.inf)
        for first in range(1, length):
            m = a - first
            if first == 1:
                x_lo = x_hi = step[a]
            else:
                x_lo, x_hi = node_min[a, m], node_max[a, m]
            y_lo = np.fmin(comp[m, b], plus_min[m, b])  # any sequence over [m → b]
            y_hi = np.fmax(comp[m, b], plus_max[m, b])
            v_lo = np.minimum(v_lo, x_lo * (w + (1.0 - w) * y_lo))
            v_hi = np.maximum(v_hi, x_hi * (w + (1.0 - w) * y_hi))
            if first >= 2:  # a node first, then any sequence
                s_lo = np.minimum(s_lo, x_lo * y_lo)
                s_hi = np.maximum(s_hi, x_hi * y_hi)
            elif length - first >= 2:  # a leaf first, then a sequence with a node
                s_lo = np.fmin(s_lo, step[a] * plus_min[m, b])
                s_hi = np.fmax(s_hi, step[a] * plus_max[m, b])
        node_min[a, b], node_max[a, b] = v_lo, v_hi
        plus_min[a, b] = np.minimum(s_lo, v_lo)
        plus_max[a, b] = np.maximum(s_hi, v_hi)
    return comp, plus_min, plus_max


def _phi(y: np.ndarray, w: float) -> np.ndarray:
    return np.log(w + (1.0 - w) * y) - np.log(y)


def _h(e: np.ndarray) -> np.ndarray:
    return np.expm1(e) ** 2


def _dh(e: np.ndarray) -> np.ndarray:
    return 2.0 * np.expm1(e) * np.exp(e)


# ------------------------------------------------------------------------------------- linear step
def _oracle(costs: tuple[np.ndarray, np.ndarray], T: int) -> tuple[Plan, list[tuple[int, int, bool]], float]:
    """The plan minimising Σ_nodes cost(node), a node's cost being ``c0[m, b]`` when its rest [m → b] is all
    leaves and ``cp[m, b]`` otherwise; returns the plan, its nodes ``(m, b, all leaves)`` and the minimum.

    V(a, b): best node over [a → b]; S(a, b): best block sequence over [a → b] with at least one node:

        V(a, b) = min_m  B(a, m) + min(c0[m, b], S(m, b) + cp[m, b]),   B = 0 for a leaf, V otherwise,
        S(a, b) = min( V(a, b),  min_{a−m≥2} V(a, m) + min(0, S(m, b)),  S(a − 1, b) ).
    """
    c0, cp = costs
    inf = np.inf
    V = np.full((T + 1, T + 1), inf)
    S = np.full((T + 1, T + 1), inf)
    v_choice = np.zeros((T + 1, T + 1, 2), dtype=np.int64)  # (m, rest all leaves)
    s_choice = np.zeros((T + 1, T + 1, 3), dtype=np.int64)  # (kind, m, rest all leaves); kind 0 node, 1 node+rest, 2 leaf+S
    for length in range(2, T + 1):
        for b in range(0, T - length + 1):
            a = b + length
            m = np.arange(a - 1, b, -1)
            first = np.where(a - m == 1, 0.0, V[a, m])
            with_node = S[m, b] + cp[m, b]
            leaves = c0[m, b] <= with_node
            total = first + np.where(leaves, c0[m, b], with_node)
            j = int(np.argmin(total))
            V[a, b] = total[j]
            v_choice[a, b] = (m[j], leaves[j])
            best, choice = V[a, b], (0, 0, 0)
            nodes_first = m[a - m >= 2]
            if nodes_first.size:
                rest = np.minimum(0.0, S[nodes_first, b])
                cand = V[a, nodes_first] + rest
                i = int(np.argmin(cand))
                if cand[i] < best:
                    best, choice = cand[i], (1, nodes_first[i], int(S[nodes_first[i], b] >= 0.0))
            if S[a - 1, b] < best:
                best, choice = S[a - 1, b], (2, a - 1, 0)
            S[a, b] = best
            s_choice[a, b] = choice
    plan = _rebuild(T, v_choice, s_choice)
    return plan, _nodes_of(plan), float(V[T, 0])


def _rebuild(T: int, v_choice: np.ndarray, s_choice: np.ndarray) -> Plan:
    """The plan from the oracle's choices (:func:`~distillplan.linear.plan.plan_from_expansion`)."""

    def node(a: int, b: int) -> tuple[int, int, tuple[int, int] | None]:
        return (a, b, None if a - b == 1 else (a, b))

    def expand(state: tuple[int, int]) -> list:
        a, b = state
        m, leaves = (int(v) for v in v_choice[a, b])
        children = [node(a, m)]
        if leaves:
            return children + [(t, t - 1, None) for t in range(m, b, -1)]
        while True:  # the rest: a block sequence over [m → b] with at least one node
            kind, split, rest_leaves = (int(v) for v in s_choice[m, b])
            if kind == 0:
                return children + [node(m, b)]
            if kind == 2:
                children.append((m, m - 1, None))
                m -= 1
                continue
            children.append(node(m, split))
            if rest_leaves:
                return children + [(t, t - 1, None) for t in range(split, b, -1)]
            m = split

    return plan_from_expansion((T, 0), expand)


def _nodes_of(plan: Plan) -> list[tuple[int, int, bool]]:
    """``(m, b, rest is all leaves)`` of every node of ``plan``."""
    out = []
    for node in plan.nodes():
        first = node.children[0]
        m = first - 1 if isinstance(first, int) else first.end
        out.append((m, node.end, all(isinstance(c, int) for c in node.children[1:])))
    return out


def _line_search(f, iterations: int = 60) -> float:
    """argmin of a convex function on [0, 1] by golden-section search (ends included)."""
    lo, hi = 0.0, 1.0
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    f1, f2 = f(x1), f(x2)
    for _ in range(iterations):
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - ratio * (hi - lo)
            f1 = f(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + ratio * (hi - lo)
            f2 = f(x2)
    best = min((0.0, f(0.0)), (1.0, f(1.0)), ((lo + hi) / 2, f((lo + hi) / 2)), key=lambda t: t[1])
    return best[0]
