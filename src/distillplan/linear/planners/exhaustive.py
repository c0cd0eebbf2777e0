"""Exhaustive enumeration of every merge plan: the ground truth for planners on small T.

The number of plans over T leaves is the little Schröder number (1, 1, 3, 11, 45, 197, 903, 4279,
20793 for T = 1..9), so enumeration is limited to T ≤ 9.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import numpy as np

from ...errors import DistillPlanError
from ..merge import MergeModel, evaluate_plan
from ..plan import Child, Plan
from ..teacher import LinearTeacher
from .result import FrontPoint, PlannerResult

__all__ = ["enumerate_plans", "count_plans", "exhaustive_plan", "MAX_EXHAUSTIVE_STEPS"]

MAX_EXHAUSTIVE_STEPS = 9


@lru_cache(maxsize=None)
def _nodes(a: int, b: int) -> tuple[Plan, ...]:
    """All internal nodes covering [a → b] (a − b ≥ 2)."""
    return tuple(Plan(seq) for seq in _sequences(a, b, min_blocks=2))


@lru_cache(maxsize=None)
def _blocks(a: int, b: int) -> tuple[Child, ...]:
    return (a,) if a - b == 1 else _nodes(a, b)


@lru_cache(maxsize=None)
def _sequences(a: int, b: int, min_blocks: int) -> tuple[tuple[Child, ...], ...]:
    """All sequences of ≥ ``min_blocks`` contiguous blocks covering [a → b]."""
    out: list[tuple[Child, ...]] = []
    if min_blocks <= 1:
        out.extend((blk,) for blk in _blocks(a, b))
    for m in range(a - 1, b, -1):
        for first in _blocks(a, m):
            for rest in _sequences(m, b, max(min_blocks - 1, 1)):
                out.append((first,) + rest)
    return tuple(out)


def enumerate_plans(steps: int) -> Iterator[Plan]:
    """Every merge plan over the teacher steps T → 0."""
    if steps < 2 or steps > MAX_EXHAUSTIVE_STEPS:
        raise DistillPlanError("steps", f"exhaustive enumeration needs 2 <= T <= {MAX_EXHAUSTIVE_STEPS}, got {steps}")
    yield from _nodes(steps, 0)


def count_plans(steps: int) -> int:
    return sum(1 for _ in enumerate_plans(steps))


def exhaustive_plan(teacher: LinearTeacher, model: MergeModel | None = None, *, max_stages: int | None = None,
                    weights=None) -> PlannerResult:
    """Evaluate every plan; return the best (lowest W2 to the surrogate) and the error-vs-stages front."""
    model = model or MergeModel()
    best_by_stages: dict[int, tuple[float, Plan]] = {}
    best = None
    for plan in enumerate_plans(teacher.steps):
        k = plan.stages
        if max_stages is not None and k > max_stages:
            continue
        res = evaluate_plan(plan, teacher, model, weights)
        if k not in best_by_stages or res.w2 < best_by_stages[k][0]:
            best_by_stages[k] = (res.w2, plan)
        if best is None or res.w2 < best.w2:
            best = res
    if best is None:
        raise DistillPlanError("max_stages", f"no plan has at most {max_stages} stages")
    front = _cumulative_front(best_by_stages)
    return PlannerResult(best, "exhaustive", True, 0.0, front, {"plans": sum(1 for _ in enumerate_plans(teacher.steps))})


def _cumulative_front(best_by_stages: dict[int, tuple[float, Plan]]) -> tuple[FrontPoint, ...]:
    """Best W2 with at most k stages, for each k that exists."""
    out: list[FrontPoint] = []
    running = (np.inf, None)
    for k in sorted(best_by_stages):
        if best_by_stages[k][0] < running[0]:
            running = best_by_stages[k]
        out.append(FrontPoint(k, float(running[0]), running[1]))
    return tuple(out)
