"""The canonical strategies next to the optimum: the table every front end shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .merge import MergeModel, PlanResult, evaluate_plan
from .planners import PlannerResult, optimal_plan
from .strategies import STRATEGIES
from .teacher import LinearTeacher

__all__ = ["Comparison", "compare_strategies", "plan_json"]


@dataclass(frozen=True)
class Comparison:
    """Every canonical strategy evaluated, plus the optimal plan and which strategy (if any) it equals."""

    strategies: dict[str, PlanResult]
    optimal: PlannerResult
    equals: str | None

    def gap(self, name: str) -> float:
        """Error gap W2(strategy) − W2(optimum)."""
        return self.strategies[name].w2 - self.optimal.w2

    def best_canonical(self) -> str:
        return min(self.strategies, key=lambda n: self.strategies[n].w2)

    def to_dict(self) -> dict:
        """The ``strategies`` mapping of ``distillplan plan --json``."""
        out: dict = {}
        for name, res in self.strategies.items():
            out[name] = {"w2": res.w2, "w2_data": res.w2_data, "stages": res.stages, "gap": self.gap(name),
                         **plan_json(res.plan)}
        opt = self.optimal
        out["optimal"] = {
            "w2": opt.w2, "w2_data": opt.evaluation.w2_data, "stages": opt.plan.stages, "gap": 0.0,
            **plan_json(opt.plan), "solver": opt.solver, "certified": opt.certified,
            "gap_bound": opt.gap_bound, "lower_bound": opt.lower_bound, "note": opt.note, "equals": self.equals,
        }
        return out


def plan_json(plan) -> dict:
    """A plan in every JSON document: ``merges`` (the flat form, any JSON reader takes it) and ``plan``
    (the bracket text, for people)."""
    return {"merges": plan.merges(), "plan": plan.to_text()}


def compare_strategies(teacher: LinearTeacher, model: MergeModel | None = None, *, weights=None,
                       max_stages: int | None = None, front: bool = False, solver: str = "auto",
                       cap: int | None = None) -> Comparison:
    """Evaluate vanilla, progressive, BOOT and consistency, and find the optimal plan."""
    model = model or MergeModel()
    strategies = {name: evaluate_plan(build(teacher.steps), teacher, model, weights) for name, build in STRATEGIES.items()}
    opt = optimal_plan(teacher, model, weights=weights, max_stages=max_stages, front=front, solver=solver, cap=cap)
    equals = next((name for name, res in strategies.items() if res.plan == opt.plan), None)
    if equals is None:
        # Ties: equal error to 1e-9 relative, or to the float64 rounding floor of W2 = ‖r_T (M − P*)‖
        # (each of the ≤ 2T multiplications along a plan rounds M by ε relative).
        floor = 8 * teacher.steps * np.finfo(float).eps * float(np.sqrt(np.sum(teacher.r2[-1] * teacher.surrogate() ** 2)))
        tol = max(1e-9 * opt.w2, floor)
        equals = next((name for name, res in strategies.items()
                       if (max_stages is None or res.stages <= max_stages) and abs(res.w2 - opt.w2) <= tol), None)
    return Comparison(strategies, opt, equals)
