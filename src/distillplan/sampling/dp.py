"""Step-selection dynamic programmes over a fine teacher grid: GITS-style and OptimalSteps-style.

Both choose n jumps from the first to the last of P fine teacher points ``0 = i_0 < i_1 < … < i_n = P − 1``.

**GITS-style** (geometry-inspired time scheduling; reimplemented from its published description). A cost
matrix ``C[i, j]`` (i < j) is the error of ONE sampler jump from the teacher's state at fine point i to
point j, measured against the teacher's state at j on a calibration batch. The accumulated cost of a path
after its k-th jump is

    D_k(j) = min_{i < j}  γ · D_{k−1}(i) + C[i, j],      D_0(0) = 0,                                  (1)

and the schedule is the path reaching ``D_n(P − 1)``. With γ = 1 this is the plain sum of local errors; GITS
weights what came before by a coefficient (1.15 in its paper) because the DP minimises accumulated local
error while the global error, which grows along the path, is what matters. (1) is exact: it equals brute
force over all C(P − 2, n − 1) paths.

**OptimalSteps-style** (reimplemented from its published description). The student's own state is carried
along: ``S_k(j)`` is the state reached at fine point j after k student jumps, kept from the predecessor i
that minimises the error ``err(jump(S_{k−1}(i), i, j), j)`` to the teacher's state at j:

    E_k(j) = min_{i < j} err(jump(S_{k−1}(i), i, j), j),   S_k(j) = that jump's state.                 (2)

Unlike (1) it scores the final error, not a sum of local ones. Because the state depends on the path, (2)
is a heuristic in general (it keeps one state per (k, j)); it equals brute force over all paths when a
jump's error does not depend on the incoming state. Run per sample, or on a batch by averaging ``err``.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import numpy as np

from ..errors import DistillPlanError, check_finite_array, check_int_range, check_range

__all__ = ["gits_steps", "optimal_steps", "GITS_COEFFICIENT"]

GITS_COEFFICIENT = 1.15
"""The coefficient γ of (1) that GITS publishes as its default."""

State = TypeVar("State")


def gits_steps(cost, n: int, coefficient: float = 1.0) -> tuple[list[int], float]:
    """Indices ``[0, i_1, …, P − 1]`` of the path of exactly ``n`` jumps minimising (1), and its value.

    ``cost`` is a (P, P) array; only entries with i < j are read (they must be finite and ≥ 0).
    """
    C = check_finite_array("cost", np.asarray(cost, dtype=np.float64), ndim=2)
    P = C.shape[0]
    if C.shape != (P, P) or P < 2:
        raise DistillPlanError("cost", f"must be a square matrix of at least 2 × 2, got shape {C.shape}")
    upper = np.triu(np.ones((P, P), dtype=bool), 1)
    if np.any(C[upper] < 0):
        raise DistillPlanError("cost", "jump costs C[i, j] (i < j) must be >= 0")
    n = check_int_range("n", n, 1, P - 1)
    gamma = check_range("coefficient", coefficient, 0.0, 1e6)
    masked = np.where(upper, C, np.inf)
    D = np.full(P, np.inf)
    D[0] = 0.0
    back = np.zeros((n + 1, P), dtype=np.int64)
    for k in range(1, n + 1):
        totals = gamma * D[:, None] + masked  # (i, j)
        back[k] = np.argmin(totals, axis=0)
        D = totals[back[k], np.arange(P)]
    path = [P - 1]
    for k in range(n, 0, -1):
        path.append(int(back[k, path[-1]]))
    return path[::-1], float(D[P - 1])


def optimal_steps(teacher: list[State] | np.ndarray, n: int,
                  jumps: Callable[[State, int, list[int]], list[State]],
                  error: Callable[[State, int], float]) -> tuple[list[int], float]:
    """Indices ``[0, i_1, …, P − 1]`` chosen by (2) and the final error ``E_n(P − 1)``.

    ``teacher[i]`` is the teacher's state at fine point i (P points); ``jumps(state, i, targets)`` returns one
    student jump from point i to each j in ``targets`` (one model evaluation serves them all for one-step
    samplers); ``error(state, j)`` is a jump's error against the teacher at j (≥ 0). Cost: at most n·P calls
    of ``jumps`` and n·P²/2 of ``error``.
    """
    P = len(teacher)
    if P < 2:
        raise DistillPlanError("teacher", f"needs at least 2 fine points, got {P}")
    n = check_int_range("n", n, 1, P - 1)
    E = {(0, 0): 0.0}
    S = {(0, 0): teacher[0]}
    back: dict[tuple[int, int], int] = {}
    for k in range(1, n + 1):
        # after k jumps the path stands at one of the fine points k..P − 1 − (n − k) (room for the rest)
        targets = list(range(k, P - (n - k)))
        best: dict[int, tuple[float, int, State]] = {}
        for i in range(k - 1, targets[-1]):
            if (k - 1, i) not in S:
                continue
            reach = [j for j in targets if j > i]
            for j, state in zip(reach, jumps(S[(k - 1, i)], i, reach)):
                err = float(error(state, j))
                if not np.isfinite(err) or err < 0:
                    raise DistillPlanError("error", f"must be finite and >= 0, got {err!r} for the jump {i} -> {j}")
                if j not in best or err < best[j][0]:
                    best[j] = (err, i, state)
        for j, (err, i, state) in best.items():
            E[(k, j)], back[(k, j)], S[(k, j)] = err, i, state
    path = [P - 1]
    for k in range(n, 0, -1):
        path.append(back[(k, path[-1])])
    return path[::-1], E[(n, P - 1)]
