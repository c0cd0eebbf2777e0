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
    rounding, 1e-9 relative); otherwise ``gap_bound`` bounds how far above the optimum it can be:
    W2(found) − W2(optimal) ≤ gap_bound, and ``lower_bound`` ≤ W2(optimal) is the certified bound behind it.
    ``note`` says in words what the certificate is, and why when no positive lower bound exists.
    """

    evaluation: PlanResult
    solver: str
    certified: bool
    gap_bound: float = 0.0
    front: tuple[FrontPoint, ...] = ()
    stats: dict = field(default_factory=dict)
    lower_bound: float = 0.0
    note: str = ""

    @property
    def plan(self) -> Plan:
        return self.evaluation.plan

    @property
    def w2(self) -> float:
        return self.evaluation.w2
