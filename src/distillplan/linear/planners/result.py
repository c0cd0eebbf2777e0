"""What every planner returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..merge import PlanResult
from ..plan import Plan

__all__ = ["FrontPoint", "PlannerResult"]


@dataclass(frozen=True)
class FrontPoint:
    """Best plan with at most ``stages`` distillation stages, and its W2 to the surrogate."""

    stages: int
    w2: float
    plan: Plan


@dataclass(frozen=True)
class PlannerResult:
    """An optimal (or best-found) merge plan.

    ``certified`` is True when ``evaluation.w2`` is provably the optimum (up to floating-point
    rounding, 1e-12 relative); otherwise ``gap_bound`` bounds how far above the optimum it can be:
    W2(found) − W2(optimal) ≤ gap_bound.
    """

    evaluation: PlanResult
    solver: str
    certified: bool
    gap_bound: float = 0.0
    front: tuple[FrontPoint, ...] = ()
    stats: dict = field(default_factory=dict)

    @property
    def plan(self) -> Plan:
        return self.evaluation.plan

    @property
    def w2(self) -> float:
        return self.evaluation.w2
