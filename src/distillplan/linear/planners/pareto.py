"""Pareto dynamic programme for any regime and for diagonal Λ (one plan shared by all coordinates).

Per interval [a → b] the DP keeps a set of candidate value vectors (one entry per distinct λ_i)
for a node V(a, b) and for a block sequence Q(a, b), each with its stage count and back-pointers.
Candidates are combined exactly as in :mod:`.oriented`; what differs is pruning:

1. **Exact** (up to 1e-12 relative rounding): duplicates are dropped, and on coordinates whose
   orientation is known (every plan's root above the surrogate: lower is better; below: higher is
   better) a candidate is dropped when another is at least as good on every oriented coordinate,
   equal on every other coordinate and has no more stages. The root is increasing in every
   sub-value, so no optimal plan is lost.
2. **Approximate**, only when an interval still holds more than ``cap`` candidates: candidates are
   bucketed on a grid of width ε in log-value (ε doubled until ≤ ``cap`` buckets remain; the best
   candidate on the oriented coordinates represents its bucket).

Bound. Every node value is 1-Lipschitz in the log of each child value (log-sensitivities of
w·x + (1 − w)·x·y are ≤ 1), so a representative within ε of a dropped candidate moves the root's
log-value by at most the sum δ of the ε's met along the optimal plan's tree (tracked per interval
as δ(a, b) = max_m [δ_B(a, m) + δ_Q(m, b)] + ε(a, b)). Hence

    W2(found) − W2(optimal) ≤ (e^δ − 1) · sqrt(Σ_i c_i r_{T,i}² max_root_i²) =: gap_bound,

with max_root from the exact max-DP. Independently, the ideal point gives the lower bound
LB = sqrt(Σ_i c_i r_{T,i}² dist(P*_i, [min_root_i, max_root_i])²) ≤ W2(optimal), so the reported
gap bound is min(gap_bound, W2(found) − LB). The result is *certified* when no approximate pruning
happened, or when the found W2 meets LB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import DistillPlanError
from ..merge import MergeModel, evaluate_plan
from ..plan import Plan, plan_from_expansion
from ..teacher import LinearTeacher

__all__ = ["ParetoOutcome", "pareto_dp", "default_cap"]

_EXACT_EPS = 1e-12
_DOMINANCE_WORK = 1e7  # n²·d element comparisons allowed for one exact dominance filter
_PILE = 4_000_000  # values held before an intermediate prune


def default_cap(steps: int, dim: int, work: float = 2.5e7) -> int:
    """Candidates kept per interval so that the DP does about ``work`` element operations.

    Never below 8192 for T ≤ 8 (T = 8 has 4279 plans in all), so such problems are always solved without
    approximation.
    """
    triples = max(steps**3 / 6.0, 1.0)
    return int(max(8192 if steps <= 8 else 16, min(4096, np.sqrt(work / (triples * dim)))))


@dataclass
class _Cands:
    vals: np.ndarray  # (n, d) values
    stages: np.ndarray  # (n,) int
    back: np.ndarray  # (n, 3): split m (−1: single block, −2: leaf), index into first, index into rest
    delta: float = 0.0  # accumulated log-approximation bound


@dataclass(frozen=True)
class ParetoOutcome:
    """Best root candidate overall and per exact stage count, with the approximation bound δ."""

    plan: Plan
    root: np.ndarray
    front: dict  # stages -> (objective, Plan)
    delta: float
    approximate: bool
    candidates: int


def pareto_dp(teacher: LinearTeacher, model: MergeModel, orient: np.ndarray, weights: np.ndarray, *,
              max_stages: int | None = None, cap: int | None = None, front: bool = False) -> ParetoOutcome:
    """Run the Pareto DP. ``orient[i]`` is +1 (lower is better), −1 (higher is better) or 0 (unknown)."""
    T, d = teacher.steps, teacher.dim
    K = T - 1 if max_stages is None else int(max_stages)
    if K < 1:
        raise DistillPlanError("max_stages", f"must be >= 1, got {max_stages}")
    cap = default_cap(T, d) if cap is None else int(cap)
    if cap < 1:
        raise DistillPlanError("cap", f"must be >= 1, got {cap}")
    orient = np.asarray(orient, dtype=np.float64)
    sgn = np.where(orient == 0, 1.0, orient)
    r2T = teacher.r2[-1]
    P = teacher.surrogate()
    w_all = model.weight(teacher, np.arange(T + 1))

    leaf: dict[int, _Cands] = {
        a: _Cands(teacher.step[a][None, :].copy(), np.zeros(1, dtype=np.int64), np.array([[-2, 0, 0]]))
        for a in range(1, T + 1)
    }
    V: dict[tuple[int, int], _Cands] = {}
    Q: dict[tuple[int, int], _Cands] = {(a, a - 1): leaf[a] for a in range(1, T + 1)}

    def block(a: int, b: int) -> _Cands:
        return leaf[a] if a - b == 1 else V[(a, b)]

    # Stage counts only matter for a stage budget or the front; otherwise they must not split buckets.
    track_stages = front or max_stages is not None
    approximate = False
    total = 0
    best_obj = np.inf
    best_ref = None
    front_best: dict[int, tuple[float, tuple]] = {}
    for L in range(2, T + 1):
        for b in range(0, T - L + 1):
            a = b + L
            is_root = a == T and b == 0
            jump = teacher.jump(a, b) if model.init == "jump" else None
            splits = list(range(a - 1, b, -1))
            delta_in = max(block(a, m).delta + Q[(m, b)].delta for m in splits)
            node_parts, seq_parts = [], []
            for group in _groups(splits, lambda m: len(block(a, m).stages) * len(Q[(m, b)].stages) * d):
                m_of, ix, iy, x, y, st = _pairs([(m, block(a, m), Q[(m, b)]) for m in group])
                ok = st + 1 <= K
                if not ok.any():
                    continue
                vals = model.node_value(w_all[a], jump, x[ok], y[ok])
                back = np.stack([m_of[ok], ix[ok], iy[ok]], axis=1)
                if is_root:
                    obj = np.sum(weights * r2T * (vals - P) ** 2, axis=1)
                    total += obj.size
                    i = int(np.argmin(obj))
                    if obj[i] < best_obj:
                        best_obj, best_ref = float(obj[i]), tuple(int(v) for v in back[i])
                    if front:
                        sts = st[ok] + 1
                        for k in np.unique(sts):
                            sel = np.flatnonzero(sts == k)
                            j = sel[np.argmin(obj[sel])]
                            if k not in front_best or obj[j] < front_best[k][0]:
                                front_best[int(k)] = (float(obj[j]), tuple(int(v) for v in back[j]))
                    continue
                node_st = st[ok] + 1 if track_stages else np.zeros(int(ok.sum()), dtype=np.int64)
                node_parts = _accumulate(node_parts, _Cands(vals, node_st, back), sgn, orient, cap)
                if L < T:  # sequences over [a → b] are only needed below the root
                    keep = st <= K
                    seq = _Cands(x[keep] * y[keep], st[keep] if track_stages else st[keep] * 0,
                                 np.stack([m_of[keep], ix[keep], iy[keep]], axis=1))
                    seq_parts = _accumulate(seq_parts, seq, sgn, orient, cap)
            if is_root:
                continue
            Vab = _prune(_concat(node_parts), sgn, orient, cap)
            single = _Cands(Vab.vals, Vab.stages, np.stack(
                [np.full(len(Vab.stages), -1), np.arange(len(Vab.stages)), np.zeros(len(Vab.stages), dtype=int)], 1),
                Vab.delta)
            Qab = _prune(_concat(seq_parts + [single]), sgn, orient, cap)
            Vab.delta += delta_in
            Qab.delta += delta_in
            V[(a, b)], Q[(a, b)] = Vab, Qab
            approximate |= Vab.delta > 0 or Qab.delta > 0
            total += len(Vab.stages) + len(Qab.stages)
    if best_ref is None:
        raise DistillPlanError("max_stages", f"no plan has at most {max_stages} stages")

    def expand(state):
        """Children of the node over [a → b] whose first child and rest are ``(m, ix, iy)``."""
        a, b, (m, ix, iy) = state
        children = [(a, m, None if a - m == 1 else (a, m, tuple(int(v) for v in V[(a, m)].back[ix])))]
        a, idx = m, iy
        while a - b > 1:  # the rest: a block sequence over [a → b]
            m, ix, iy = (int(v) for v in Q[(a, b)].back[idx])
            if m == -1:  # a single block, the node over [a → b]
                children.append((a, b, (a, b, tuple(int(v) for v in V[(a, b)].back[ix]))))
                return children
            children.append((a, m, None if a - m == 1 else (a, m, tuple(int(v) for v in V[(a, m)].back[ix]))))
            a, idx = m, iy
        children.append((a, b, None))
        return children

    def rebuild(ref) -> Plan:
        return plan_from_expansion((T, 0, ref), expand)

    best_plan = rebuild(best_ref)
    root_delta = max((block(T, m).delta + Q[(m, 0)].delta) for m in range(T - 1, 0, -1))
    fr = {k: (float(np.sqrt(v[0])), rebuild(v[1])) for k, v in sorted(front_best.items())}
    root = evaluate_plan(best_plan, teacher, model).root
    return ParetoOutcome(best_plan, root, fr, root_delta, approximate or root_delta > 0, total)


def _groups(splits: list[int], size) -> list[list[int]]:
    """Split points batched so that each batch pairs at most ``_PILE`` values."""
    out: list[list[int]] = [[]]
    load = 0
    for m in splits:
        n = size(m)
        if out[-1] and load + n > _PILE:
            out.append([])
            load = 0
        out[-1].append(m)
        load += n
    return out


def _pairs(parts: list[tuple[int, "_Cands", "_Cands"]]):
    """All (first child, rest) candidate pairs of several splits at once.

    Returns the split of each pair, the indices into the first child's and the rest's candidates,
    their values and the summed stage counts.
    """
    nx = np.array([len(X.stages) for _, X, _ in parts])
    ny = np.array([len(Y.stages) for _, _, Y in parts])
    counts = nx * ny
    which = np.repeat(np.arange(len(parts)), counts)
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    ix = local // ny[which]
    iy = local % ny[which]
    xs = np.concatenate([X.vals for _, X, _ in parts])
    ys = np.concatenate([Y.vals for _, _, Y in parts])
    gx = ix + np.repeat(np.cumsum(nx) - nx, counts)
    gy = iy + np.repeat(np.cumsum(ny) - ny, counts)
    st = np.concatenate([X.stages for _, X, _ in parts])[gx] + np.concatenate([Y.stages for _, _, Y in parts])[gy]
    m_of = np.array([m for m, _, _ in parts])[which]
    return m_of, ix, iy, xs[gx], ys[gy], st


def _accumulate(parts: list[_Cands], new: _Cands, sgn, orient, cap: int) -> list[_Cands]:
    """Append ``new``; prune the pile once it holds more than ``_PILE`` values (bounds memory)."""
    parts.append(new)
    if sum(p.vals.size for p in parts) > _PILE:
        parts = [_prune(_concat(parts), sgn, orient, cap)]
    return parts


def _concat(parts: list[_Cands]) -> _Cands:
    parts = [p for p in parts if len(p.stages)]
    if not parts:
        return _Cands(np.empty((0, 0)), np.empty(0, dtype=np.int64), np.empty((0, 3), dtype=np.int64))
    return _Cands(np.concatenate([p.vals for p in parts]), np.concatenate([p.stages for p in parts]),
                  np.concatenate([p.back for p in parts]), max(p.delta for p in parts))


def _prune(c: _Cands, sgn: np.ndarray, orient: np.ndarray, cap: int) -> _Cands:
    """Drop duplicates and dominated candidates; bucket on an ε-grid while more than ``cap`` remain."""
    n = len(c.stages)
    if n <= 1:
        return c
    logs = np.log(c.vals) * sgn  # oriented coordinates: lower is better
    eps = _EXACT_EPS
    delta = 0.0
    if n <= 8 * cap:  # exact pass first; far above the cap it could not avoid the ε-grid anyway
        keep = _bucket(logs, c.stages, orient, eps)
        keep = _dominance(logs, c.stages, orient, keep, eps)
    else:
        keep = np.arange(n)
    if keep.size > cap:
        # The finest grid (doubling from span/cap) that leaves at most ``cap`` candidates.
        span = float(np.max(np.ptp(logs[keep], axis=0)))
        eps = max(span / max(cap - 2, 1), 1e-9)
        while True:
            trial = _bucket(logs, c.stages, orient, eps, keep)
            trial = _dominance(logs, c.stages, orient, trial, eps)
            if trial.size <= cap or eps > 2.0 * span:  # one cell per stage count is the coarsest grid
                keep, delta = trial, eps
                break
            eps *= 2.0
    return _Cands(c.vals[keep], c.stages[keep], c.back[keep], c.delta + delta)


def _bucket(logs, stages, orient, eps, idx=None) -> np.ndarray:
    """One candidate per (stage count, ε-cell): the one with the smallest oriented log-sum."""
    idx = np.arange(len(stages)) if idx is None else idx
    cells = np.floor(logs[idx] / eps)
    cells -= cells.min(axis=0)
    key = _row_keys(np.concatenate([stages[idx, None].astype(np.float64), cells], axis=1))
    if np.any(orient != 0):
        score = logs[idx][:, orient != 0].sum(axis=1)
        order = np.lexsort((score, key))
        first = np.ones(idx.size, dtype=bool)
        first[1:] = key[order][1:] != key[order][:-1]
        chosen = order[first]
    else:
        _, chosen = np.unique(key, return_index=True)
    return np.sort(idx[chosen])


def _row_keys(rows: np.ndarray) -> np.ndarray:
    """Distinct integer rows → distinct sortable keys (a packed int64 when it fits, else row bytes)."""
    spans = rows.max(axis=0) + 1
    if np.all(spans < 2**62) and np.sum(np.log2(spans)) < 62:
        mult = np.cumprod(np.concatenate([[1.0], spans[:-1]])).astype(np.int64)
        return rows.astype(np.int64) @ mult
    r = np.ascontiguousarray(rows.astype(np.int64))
    return r.view(np.dtype((np.void, r.dtype.itemsize * r.shape[1]))).ravel()


def _dominance(logs, stages, orient, idx, eps) -> np.ndarray:
    """Remove candidates dominated on oriented coordinates (and stages) that share the other
    coordinates' ε-cells (exactly equal values when ε is the rounding tolerance)."""
    oriented = orient != 0
    if not oriented.any() or idx.size < 2:
        return idx
    free = ~oriented
    if idx.size**2 * (oriented.sum() + 1) > _DOMINANCE_WORK:
        return idx
    Lo = np.concatenate([logs[idx][:, oriented], stages[idx, None].astype(np.float64)], axis=1)
    Lf = np.floor(logs[idx][:, free] / eps)
    tol = 1e-12
    dominated = np.zeros(idx.size, dtype=bool)
    chunk = max(1, int(2e7 // max(idx.size * Lo.shape[1], 1)))
    for s in range(0, idx.size, chunk):
        sub = slice(s, min(s + chunk, idx.size))
        le = np.all(Lo[None, :, :] <= Lo[sub, None, :] + tol, axis=2)  # i (cols) ≤ j (rows) everywhere
        if free.any():
            le &= np.all(Lf[None, :, :] == Lf[sub, None, :], axis=2)
        strictly = np.any(Lo[None, :, :] < Lo[sub, None, :] - tol, axis=2)
        rows = np.arange(sub.start, sub.stop)
        # dominated if some other candidate is ≤ everywhere and < somewhere; among exact ties keep the first
        tie = le & ~strictly
        tie_earlier = tie & (np.arange(idx.size)[None, :] < rows[:, None])
        dominated[sub] = np.any(le & strictly, axis=1) | np.any(tie_earlier, axis=1)
    return idx[~dominated]
