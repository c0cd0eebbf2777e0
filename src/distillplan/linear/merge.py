"""The student merge model under limited optimization time (default ``warm-start``).

A stage trains one student at node [a → b] toward the composition P = Π_j M(c_j) of its children.
Gradient flow for time s on the normalised loss E[(m z_a − P z_a)²]/E[z_a²] gives
m(s) = P + (m(0) − P)·e^{−s}, hence

    M(node) = w · m(0) + (1 − w) · Π_j M(c_j),      w = e^{−s}

with m(0) = M(c_1) (``init='warm'``: the student is a copy of the teacher and so starts at its
value at input time a), 0 (``init='zero'``) or the single DDIM jump a → b (``init='jump'``).
With ``rate='variance'`` (unnormalised loss) w = e^{−2 r_a² s} per coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DistillPlanError, check_nonnegative
from .plan import Plan
from .teacher import LinearTeacher

__all__ = ["MergeModel", "PlanResult", "evaluate_plan", "node_values", "w2_to_surrogate", "w2_to_data", "INITS", "RATES"]

INITS = ("warm", "zero", "jump")
RATES = ("normalized", "variance")


@dataclass(frozen=True)
class MergeModel:
    """How a student absorbs its children: optimization time ``budget`` (s) per stage, ``init``, ``rate``."""

    budget: float = 6.4
    init: str = "warm"
    rate: str = "normalized"

    def __post_init__(self) -> None:
        object.__setattr__(self, "budget", check_nonnegative("budget", self.budget))
        if self.init not in INITS:
            raise DistillPlanError("init", f"unknown initialization {self.init!r}; choose from {list(INITS)}")
        if self.rate not in RATES:
            raise DistillPlanError("rate", f"unknown rate {self.rate!r}; choose from {list(RATES)}")

    @property
    def name(self) -> str:
        base = "warm-start" if self.init == "warm" else f"init={self.init}"
        return base if self.rate == "normalized" else f"{base},rate=variance"

    def weight(self, teacher: LinearTeacher, a) -> np.ndarray:
        """Weight of the initialization after time s at input time(s) ``a``: e^{−s}, or e^{−2 r_a² s}
        for ``rate='variance'``. Shape ``(d,)`` for scalar ``a``, ``a.shape + (d,)`` for an array."""
        if self.rate == "variance":
            with np.errstate(over="ignore"):  # r²·s overflows to inf for huge s: e^-inf = 0 is the limit
                return np.exp(-2.0 * teacher.r2[a] * self.budget)
        return np.broadcast_to(np.exp(-self.budget), np.shape(a) + (teacher.dim,))

    def node_value(self, w: np.ndarray, jump: np.ndarray | None, first, rest) -> np.ndarray:
        """M = w·m(0) + (1 − w)·first·rest, with m(0) = first (warm), 0 (zero) or ``jump``.

        Increasing in ``first`` and ``rest`` when all values are > 0 (they always are).
        """
        if self.init == "warm":
            return first * (w + (1.0 - w) * rest)
        target = first * rest
        if self.init == "zero":
            return (1.0 - w) * target
        return w * jump + (1.0 - w) * target

    def combine(self, teacher: LinearTeacher, a: int, b: int, first, rest) -> np.ndarray:
        """Value of a node [a → b] whose first child has value ``first`` and the others multiply to ``rest``.

        Broadcasts over leading axes of ``first``/``rest`` (shape ``(..., d)``).
        """
        jump = teacher.jump(a, b) if self.init == "jump" else None
        return self.node_value(self.weight(teacher, a), jump, first, rest)

    def merge(self, teacher: LinearTeacher, a: int, b: int, child_values: list[np.ndarray]) -> np.ndarray:
        """Value of a node from its children's values (noise side first)."""
        rest = np.prod(child_values[1:], axis=0)
        return self.combine(teacher, a, b, child_values[0], rest)


@dataclass(frozen=True)
class PlanResult:
    """A plan evaluated under a merge model: root operator per coordinate and its errors."""

    plan: Plan
    root: np.ndarray
    w2: float
    w2_data: float

    @property
    def stages(self) -> int:
        return self.plan.stages


def w2_to_surrogate(teacher: LinearTeacher, root: np.ndarray, weights=None) -> np.ndarray:
    """W2 to the surrogate: sqrt(Σ_i r_{T,i}² (M_i − P*_i)²); ``root`` may have leading batch axes."""
    d2 = teacher.r2[-1] * (root - teacher.surrogate()) ** 2
    if weights is not None:
        d2 = d2 * weights
    return np.sqrt(np.sum(d2, axis=-1))


def w2_to_data(teacher: LinearTeacher, root: np.ndarray, weights=None) -> np.ndarray:
    """W2 to the data N(0, Λ): sqrt(Σ_i (r_{T,i}|M_i| − √λ_i)²)."""
    d2 = (np.sqrt(teacher.r2[-1]) * np.abs(root) - np.sqrt(teacher.lam)) ** 2
    if weights is not None:
        d2 = d2 * weights
    return np.sqrt(np.sum(d2, axis=-1))


def node_values(plan: Plan, teacher: LinearTeacher, model: MergeModel | None = None) -> dict[tuple[int, int], np.ndarray]:
    """Every internal node's value M(node) per coordinate, ``{(a, b): M}``, children before parents."""
    model = model or MergeModel()
    plan.validate_steps(teacher.steps)
    out: dict[tuple[int, int], np.ndarray] = {}
    for node in plan.nodes():
        children = [teacher.step[c] if isinstance(c, int) else out[(c.start, c.end)] for c in node.children]
        out[(node.start, node.end)] = model.merge(teacher, node.start, node.end, children)
    return out


def evaluate_plan(plan: Plan, teacher: LinearTeacher, model: MergeModel | None = None, weights=None) -> PlanResult:
    """Root operator M(root) per coordinate and its W2 to the surrogate and to the data."""
    root = node_values(plan, teacher, model)[(plan.start, plan.end)]
    return PlanResult(plan, root, float(w2_to_surrogate(teacher, root, weights)), float(w2_to_data(teacher, root, weights)))
