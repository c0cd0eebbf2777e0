"""Stage budgets and the front against exhaustive enumeration for every T ≤ 8 and every budget K."""

import numpy as np
import pytest

from distillplan import VPSchedule
from distillplan.linear import STRATEGIES, LinearTeacher, MergeModel, evaluate_plan, exhaustive_plan, optimal_plan

FLOOR = 1e-15
LAMS = [[0.5], [1.08], [1.3], [3.0], [0.3, 1.2, 2.5], [1.05, 1.15, 1.4]]


def _close(a, b):
    return abs(a - b) <= 1e-9 * max(a, b) + FLOOR


@pytest.mark.parametrize("lam", LAMS, ids=str)
@pytest.mark.parametrize("model", [MergeModel(6.4), MergeModel(2.0, "zero")], ids=lambda m: m.name)
def test_every_budget_is_exact_and_consistent_with_the_front(lam, model):
    for T in range(2, 9):
        te = LinearTeacher(VPSchedule.cosine(T), lam)
        truth = exhaustive_plan(te, model)
        unconstrained = optimal_plan(te, model)
        result = optimal_plan(te, model, front=True)
        front = {p.stages: p for p in result.front}
        assert _close(result.w2, truth.w2) and result.plan == unconstrained.plan
        assert list(front) == list(range(1, T))
        w2s = [front[k].w2 for k in sorted(front)]
        assert all(b <= a for a, b in zip(w2s, w2s[1:])), "the front never rises with K"
        for K in range(1, T + 2):
            limited = optimal_plan(te, model, max_stages=K)
            assert limited.plan.stages <= K
            assert limited.w2 == evaluate_plan(limited.plan, te, model).w2
            assert _close(limited.w2, exhaustive_plan(te, model, max_stages=K).w2), (T, lam, K)
            if K >= T - 1:  # cannot bind: the unconstrained answer itself
                assert limited.plan == unconstrained.plan and limited.w2 == unconstrained.w2
            else:
                assert limited.w2 == front[K].w2 and limited.plan == front[K].plan


def test_the_transition_zone_case_from_the_report():
    """λ = 1.08, T = 32: a budget that cannot bind gives the unconstrained answer; row K of the front is the
    answer for max_stages = K; the note says why no positive lower bound exists and the precision."""
    te = LinearTeacher(VPSchedule.cosine(32), [1.08])
    model = MergeModel(6.4)
    unconstrained = optimal_plan(te, model)
    assert optimal_plan(te, model, max_stages=31).w2 == unconstrained.w2
    result = optimal_plan(te, model, max_stages=10, front=True)
    assert result.w2 == result.front[9].w2 and result.front[9].stages == 10
    assert result.w2 <= min(evaluate_plan(build(32), te, model).w2 for build in STRATEGIES.values())
    if not unconstrained.certified:
        assert unconstrained.note.startswith("no positive lower bound")
        assert "float64 rounding" in unconstrained.note


def test_many_distinct_lambdas_use_the_relaxed_planner_and_beat_the_strategies():
    rng = np.random.default_rng(7)
    te = LinearTeacher(VPSchedule.cosine(32), np.exp(rng.normal(np.log(0.6), 0.8, 2000)))
    model = MergeModel(6.4)
    result = optimal_plan(te, model)
    assert result.solver == "relaxed" and result.certified
    assert result.w2 == evaluate_plan(result.plan, te, model).w2
    assert result.w2 <= min(evaluate_plan(build(32), te, model).w2 for build in STRATEGIES.values())
    assert result.lower_bound <= result.w2 <= result.lower_bound * (1 + 1e-9)
