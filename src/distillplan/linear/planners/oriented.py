"""Exact O(T³) dynamic programme for coordinates whose orientation is known.

For intervals [a → b] let V(a, b) be the value of one student covering it and Q(a, b) the value of a
sequence of ≥ 1 consecutive blocks covering it (a block is a leaf, value A*_a, or a node). Then

    V(a, b) = opt_{a>m>b} node(B(a, m), Q(m, b)),
    Q(a, b) = opt( B(a, b), opt_{a>m>b} B(a, m)·Q(m, b) ),

where node(x, y) = w·m(0) + (1 − w)·x·y is increasing in x and y. If every plan's root value lies on
one side of the surrogate P* (above it: "lower is better", e.g. whenever every teacher step
contracts, λ ≤ 1 under VP; below it: "higher is better"), minimising (maximising) every sub-value is
optimal, so this DP is exact. Run with ``sign = +1`` (min) and ``sign = −1`` (max) it also gives, per
coordinate, the exact range [min, max] of every interval's achievable values, which is how the
orientation itself is decided.

Vectorised over coordinates and over all intervals of one length; with stage counts (the
error-versus-stages front) the cost is O(K² T³) for at most K stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import DistillPlanError
from ..merge import MergeModel
from ..plan import Plan, plan_from_expansion
from ..teacher import LinearTeacher

__all__ = ["OrientedTables", "oriented_tables", "oriented_stage_tables", "MAX_STAGE_WORK", "max_front_stages",
           "check_stage_front"]

MAX_STAGE_WORK = 4e9  # K²·T³/6 element operations allowed for the stage-indexed DP


def max_front_stages(steps: int) -> int:
    """Largest stage budget K the stage-indexed DP accepts for T = ``steps`` (−1 when none fits).

    Its work is (K + 1)²·T³/6 element operations, at most :data:`MAX_STAGE_WORK`.
    """
    return int(np.floor(np.sqrt(6 * MAX_STAGE_WORK / float(steps) ** 3))) - 1


def check_stage_front(steps: int, max_stages: int | None = None) -> None:
    """Raise unless the scalar stage front up to ``max_stages`` (None: every K < T, as ``front`` asks)
    fits :data:`MAX_STAGE_WORK`; names ``max_stages``, or ``front`` when no stage budget was given."""
    K, most = min(max_stages or steps - 1, steps - 1), max_front_stages(steps)
    if K > most:
        largest_T = int(np.floor((1.5 * MAX_STAGE_WORK) ** (1 / 3)))  # where K = 1 still fits
        fix = f"use a stage budget <= {most}" if most >= 1 else f"it needs T <= {largest_T}"
        raise DistillPlanError("max_stages" if max_stages is not None else "front",
                               f"the stage front for T = {steps} with up to {K} stages is too large; {fix}")


@dataclass(frozen=True)
class OrientedTables:
    """DP results indexed ``[ℓ, b, i]``: ``V`` is the best node over [b+ℓ → b] for coordinate i;
    ``V_split``/``Q_split`` give the first child's (block's) length, 0 meaning a single block."""

    V: np.ndarray
    V_split: np.ndarray
    Q_split: np.ndarray
    sign: np.ndarray

    @property
    def root(self) -> np.ndarray:
        T = self.V.shape[0] - 1
        return self.V[T, 0]

    def node_value(self, a: int, b: int) -> np.ndarray:
        """Best node value over [a → b] per coordinate."""
        return self.V[a - b, b]

    def plan(self, coord: int = 0) -> Plan:
        """Reconstruct the optimal plan of coordinate ``coord``."""
        T = self.V.shape[0] - 1
        Vs, Qs = self.V_split[..., coord], self.Q_split[..., coord]

        def node_choice(a, b):
            return (a - int(Vs[a - b, b]),)

        def seq_choice(a, b):
            first = int(Qs[a - b, b])
            return (-1,) if first == 0 else (a - first,)

        return _rebuild(T, node_choice, seq_choice)


def _rebuild(T: int, node_choice, seq_choice, k_root=None) -> Plan:
    """Rebuild a plan from split choices. ``node_choice(a, b[, k])`` → (m[, k_first]);
    ``seq_choice(a, b[, k])`` → (m[, k_first]) with m = −1 for a single block."""
    staged = k_root is not None

    def block(a: int, b: int, *k):
        return (a, b, None if a - b == 1 else (a, b, *k))

    def expand(state):
        a, b, *k = state
        ch = node_choice(a, b, *k)
        m = ch[0]
        children = [block(a, m, ch[1]) if staged else block(a, m)]
        k = (k[0] - 1 - ch[1],) if staged else ()
        a = m
        while True:  # the rest: a sequence of blocks over [m → b]
            ch = seq_choice(a, b, *k)
            if ch[0] < 0:
                children.append(block(a, b, *k))
                return children
            children.append(block(a, ch[0], ch[1]) if staged else block(a, ch[0]))
            k = (k[0] - ch[1],) if staged else ()
            a = ch[0]

    return plan_from_expansion((T, 0, *(() if k_root is None else (k_root,))), expand)


def _interval_indices(T: int, L: int):
    b = np.arange(0, T - L + 1)
    a = b + L
    m = b[None, :] + np.arange(1, L)[:, None]  # (L−1, nb): split points, first child [a → m]
    return a, b, m


def oriented_tables(teacher: LinearTeacher, model: MergeModel, sign) -> OrientedTables:
    """Best (sign·value minimal) node and block-sequence values for every interval and coordinate.

    Working layouts make every split search a contiguous row: blocks are stored by their noise end
    (``BA[a, ℓ]`` = best block over [a → a−ℓ]) and sequences by their data end (``QB[b, ℓ]`` = best
    sequence over [b+ℓ → b]). For one length L the first children of all intervals and splits are
    then ``BA[L:L+nb, L−1:0:−1]`` and the rests ``QB[:nb, 1:L]``; the arg-min runs along the last axis.
    """
    T, d = teacher.steps, teacher.dim
    sign = np.broadcast_to(np.asarray(sign, dtype=np.float64), (d,))
    tail = () if d == 1 else (d,)
    sgn = float(sign[0]) if d == 1 else sign[None, None, :]
    flip = d == 1 and sgn < 0
    BA = np.full((T + 1, T + 1) + tail, np.nan)
    QB = np.full((T + 1, T + 1) + tail, np.nan)
    V = np.full((T + 1, T + 1) + tail, np.nan)  # result layout [ℓ, b]
    V_split = np.zeros((T + 1, T + 1) + tail, dtype=np.int32)  # length of the first child
    Q_split = np.zeros((T + 1, T + 1) + tail, dtype=np.int32)  # length of the first block, 0 = single block
    steps = teacher.step[1:].reshape((T,) + tail)
    BA[1:, 1] = steps  # leaf t covers [t → t−1]
    QB[:T, 1] = steps
    w_all = model.weight(teacher, np.arange(T + 1)).reshape((T + 1,) + tail)
    rows_per_block = max(1, (1 << 14) // d)  # elements per block (~128 KiB arrays stay in cache)
    for L in range(2, T + 1):
        nb = T - L + 1
        step = max(1, rows_per_block // (L - 1))
        for b0 in range(0, nb, step):
            b1 = min(nb, b0 + step)
            b = np.arange(b0, b1)
            X = BA[L + b0 : L + b1, L - 1 : 0 : -1]  # (n, L−1[, d]); column k: first child of length L−1−k
            Y = QB[b0:b1, 1:L]  # column k: rest of length k+1
            w = w_all[L + b0 : L + b1, None]
            jump = teacher.jump_many(b + L, b).reshape((b.size, 1) + tail) if model.init == "jump" else None
            node = model.node_value(w, jump, X, Y)
            seq = X * Y
            if d == 1:
                k = np.argmax(node, axis=1) if flip else np.argmin(node, axis=1)
                ks = np.argmax(seq, axis=1) if flip else np.argmin(seq, axis=1)
            else:
                k = np.argmin(sgn * node, axis=1)
                ks = np.argmin(sgn * seq, axis=1)
            best = np.take_along_axis(node, k[:, None], axis=1)[:, 0]
            best_seq = np.take_along_axis(seq, ks[:, None], axis=1)[:, 0]
            single = (sign[0] if d == 1 else sign) * (best - best_seq) <= 0
            BA[L + b0 : L + b1, L] = best
            QB[b0:b1, L] = np.where(single, best, best_seq)
            V[L, b0:b1] = best
            V_split[L, b0:b1] = L - 1 - k
            Q_split[L, b0:b1] = np.where(single, 0, L - 1 - ks)
    if d == 1:
        V, V_split, Q_split = (x[..., None] for x in (V, V_split, Q_split))
    return OrientedTables(V, V_split, Q_split, sign.copy())


@dataclass(frozen=True)
class OrientedStageTables:
    """Scalar DP tables indexed ``[a, b, k]``: best value with exactly k stages (NaN if impossible)."""

    V: np.ndarray
    V_split: np.ndarray
    V_k1: np.ndarray
    Q_split: np.ndarray
    Q_k1: np.ndarray

    @property
    def root(self) -> np.ndarray:
        T = self.V.shape[0] - 1
        return self.V[T, 0]

    def plan(self, stages: int) -> Plan:
        T = self.V.shape[0] - 1
        if not np.isfinite(self.V[T, 0, stages]):
            raise DistillPlanError("max_stages", f"no plan with exactly {stages} stages")
        return _rebuild(
            T,
            lambda a, b, k: (int(self.V_split[a, b, k]), int(self.V_k1[a, b, k])),
            lambda a, b, k: (int(self.Q_split[a, b, k]), int(self.Q_k1[a, b, k])),
            k_root=stages,
        )


def oriented_stage_tables(teacher: LinearTeacher, model: MergeModel, sign: float, max_stages: int) -> OrientedStageTables:
    """Scalar stage-indexed DP: for every interval and every exact stage count k ≤ K, the best value.

    A node over ℓ leaves can have 1..ℓ−1 stages, a block sequence 0..ℓ−1; a node adds one stage to
    its children's. Cost O(K² T³ / 6).
    """
    if teacher.dim != 1:
        raise DistillPlanError("lam", "the stage-indexed DP is scalar; use the Pareto planner for diagonal Λ")
    T = teacher.steps
    check_stage_front(T, max_stages)
    K = min(max_stages, T - 1)
    nan = np.nan
    V = np.full((T + 1, T + 1, K + 1), nan)
    Q = np.full((T + 1, T + 1, K + 1), nan)
    B = np.full((T + 1, T + 1, K + 1), nan)
    V_split = np.full((T + 1, T + 1, K + 1), -1, dtype=np.int32)
    V_k1 = np.zeros((T + 1, T + 1, K + 1), dtype=np.int32)
    Q_split = np.full((T + 1, T + 1, K + 1), -1, dtype=np.int32)
    Q_k1 = np.zeros((T + 1, T + 1, K + 1), dtype=np.int32)
    t = np.arange(1, T + 1)
    B[t, t - 1, 0] = teacher.step[1:, 0]
    Q[t, t - 1, 0] = teacher.step[1:, 0]
    w_all = model.weight(teacher, np.arange(T + 1))[:, 0]
    for L in range(2, T + 1):
        a, b, m = _interval_indices(T, L)
        nb = b.size
        X = B[a[None, :], m]  # (L−1, nb, K+1)
        Y = Q[m, b[None, :]]
        jump = teacher.jump_many(a, b)[:, 0] if model.init == "jump" else np.zeros(nb)
        w = w_all[a]
        best_v = np.full((nb, K + 1), np.inf)
        arg_v = np.zeros((nb, K + 1, 2), dtype=np.int32)
        best_q = np.full((nb, K + 1), np.inf)
        arg_q = np.zeros((nb, K + 1, 2), dtype=np.int32)
        for k1 in range(0, min(K, L - 1) + 1):
            x = X[:, :, k1][:, :, None]  # (L−1, nb, 1)
            # node: k = 1 + k1 + k2
            if k1 + 1 <= K:
                y = Y[:, :, : K - k1]
                cand = sign * model.node_value(w[None, :, None], jump[None, :, None], x, y)
                _update(best_v, arg_v, cand, k1, k1 + 1)
            seq = sign * (x * Y[:, :, : K + 1 - k1])  # sequence: k = k1 + k2
            _update(best_q, arg_q, seq, k1, k1)
        finite = np.isfinite(best_v)
        V[a, b] = np.where(finite, sign * best_v, nan)
        B[a, b] = V[a, b]
        V_split[a, b] = np.where(finite, m[arg_v[..., 0], np.arange(nb)[:, None]], -1)
        V_k1[a, b] = arg_v[..., 1]
        single = np.isfinite(best_v) & (best_v <= best_q)
        qv = np.where(single, best_v, best_q)
        Q[a, b] = np.where(np.isfinite(qv), sign * qv, nan)
        Q_split[a, b] = np.where(single, -1, m[arg_q[..., 0], np.arange(nb)[:, None]])
        Q_k1[a, b] = arg_q[..., 1]
    return OrientedStageTables(V, V_split, V_k1, Q_split, Q_k1)


def _update(best: np.ndarray, arg: np.ndarray, cand: np.ndarray, k1: int, offset: int) -> None:
    """Fold candidates ``cand[j, b, k2]`` (total stages offset + k2) into running minima over (j, k1)."""
    c = np.where(np.isnan(cand), np.inf, cand)
    j = np.argmin(c, axis=0)  # (nb, n2)
    v = np.take_along_axis(c, j[None], axis=0)[0]
    n2 = v.shape[1]
    sl = slice(offset, offset + n2)
    better = v < best[:, sl]
    best[:, sl] = np.where(better, v, best[:, sl])
    arg[:, sl, 0] = np.where(better, j, arg[:, sl, 0])
    arg[:, sl, 1] = np.where(better, k1, arg[:, sl, 1])
