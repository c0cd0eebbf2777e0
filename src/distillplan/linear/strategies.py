"""The canonical distillation strategies as merge plans: vanilla, progressive, sequential BOOT and consistency."""

from __future__ import annotations

from ..errors import DistillPlanError
from .plan import Child, Plan, check_steps

__all__ = ["vanilla", "progressive", "boot", "consistency", "STRATEGIES", "canonical_plan"]


def vanilla(steps: int) -> Plan:
    """One stage: a single student distils all T teacher steps at once."""
    T = check_steps(steps)
    return Plan(tuple(range(T, 0, -1)))


def progressive(steps: int) -> Plan:
    """Progressive distillation: a balanced binary tree (the larger half on the noise side)."""
    T = check_steps(steps)

    def build(leaves: list[int]) -> Child:
        if len(leaves) == 1:
            return leaves[0]
        half = (len(leaves) + 1) // 2
        return Plan((build(leaves[:half]), build(leaves[half:])))

    return build(list(range(T, 0, -1)))  # type: ignore[return-value]


def boot(steps: int) -> Plan:
    """Sequential BOOT: noise-anchored chain ((((T, T−1), T−2), …), 1)."""
    T = check_steps(steps)
    node = Plan((T, T - 1))
    for t in range(T - 2, 0, -1):
        node = Plan((node, t))
    return node


def consistency(steps: int) -> Plan:
    """Sequential consistency distillation: data-anchored chain (T, (T−1, (…, (2, 1))))."""
    T = check_steps(steps)
    node = Plan((2, 1))
    for t in range(3, T + 1):
        node = Plan((t, node))
    return node


STRATEGIES = {"vanilla": vanilla, "progressive": progressive, "boot": boot, "consistency": consistency}


def canonical_plan(name: str, steps: int) -> Plan:
    """The canonical strategy ``name`` for T = ``steps``."""
    try:
        return STRATEGIES[name](steps)
    except KeyError:
        raise DistillPlanError("strategy", f"unknown strategy {name!r}; choose from {list(STRATEGIES)}") from None
