"""The relaxed planner for diagonal Λ: its lower bound never exceeds the true optimum (exhaustive enumeration),
its plan is evaluated exactly, and on spread spectra it certifies the optimum."""

import numpy as np
import pytest

from distillplan import DistillPlanError, VPSchedule
from distillplan.linear import LinearTeacher, MergeModel, evaluate_plan
from distillplan.linear.planners.exhaustive import enumerate_plans
from distillplan.linear.planners.relaxed import _nodes_of, _oracle, _PhiTables, relaxed_plan

MODEL = MergeModel(6.4)


@pytest.mark.parametrize("steps", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lower_bound_and_plan_bracket_the_exhaustive_optimum(steps, seed):
    lam = np.exp(np.random.default_rng(seed).normal(np.log(0.8), 1.0, 40))
    teacher = LinearTeacher(VPSchedule.cosine(steps), lam)
    out = relaxed_plan(teacher, MODEL, np.ones(lam.size), max_iter=60)
    optimum = min(evaluate_plan(p, teacher, MODEL).w2 for p in enumerate_plans(steps))
    assert out.lower_bound <= optimum * (1 + 1e-12)
    assert out.w2 >= optimum * (1 - 1e-12)
    assert out.w2 == evaluate_plan(out.plan, teacher, MODEL).w2


def test_weights_count_like_repeated_coordinates():
    lam = np.array([0.3, 1.5, 4.0])
    teacher = LinearTeacher(VPSchedule.cosine(6), lam)
    repeated = LinearTeacher(VPSchedule.cosine(6), np.repeat(lam, [1, 3, 2]))
    a = relaxed_plan(teacher, MODEL, np.array([1.0, 3.0, 2.0]))
    b = relaxed_plan(repeated, MODEL, np.ones(6))
    assert a.plan == b.plan and a.w2 == pytest.approx(b.w2, rel=1e-12)


def test_spread_spectrum_is_certified():
    lam = np.exp(np.random.default_rng(0).normal(np.log(0.6), 0.8, 256))
    teacher = LinearTeacher(VPSchedule.cosine(16), lam)
    out = relaxed_plan(teacher, MODEL, np.ones(lam.size))
    assert out.gap <= 1e-9 * out.w2
    assert out.w2 <= evaluate_plan(canonical_boot(16), teacher, MODEL).w2


def canonical_boot(steps):
    from distillplan.linear import boot

    return boot(steps)


def test_oracle_nodes_match_the_plan_it_returns():
    teacher = LinearTeacher(VPSchedule.cosine(9), [0.4, 1.2, 3.0])
    tables = _PhiTables.build(teacher, np.exp(-6.4))
    rng = np.random.default_rng(3)
    for _ in range(20):
        costs = tables.costs(rng.normal(size=3), rng.normal(size=3))
        plan, nodes, value = _oracle(costs, 9)
        assert sorted(nodes) == sorted(_nodes_of(plan))
        c0, cp = costs
        assert value == pytest.approx(sum(c0[m, b] if leaves else cp[m, b] for m, b, leaves in nodes), rel=1e-12,
                                      abs=1e-15)


def test_oracle_is_the_exact_minimum_over_all_plans():
    teacher = LinearTeacher(VPSchedule.cosine(6), [0.4, 1.2, 3.0])
    tables = _PhiTables.build(teacher, np.exp(-6.4))
    rng = np.random.default_rng(5)
    for _ in range(10):
        c0, cp = tables.costs(rng.normal(size=3), rng.normal(size=3))
        _, _, value = _oracle((c0, cp), 6)
        every = [sum(c0[m, b] if leaves else cp[m, b] for m, b, leaves in _nodes_of(p)) for p in enumerate_plans(6)]
        assert value == pytest.approx(min(every), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("model", [MergeModel(6.4, init="jump"), MergeModel(6.4, init="zero"),
                                   MergeModel(6.4, rate="variance")])
def test_other_merge_models_are_refused(model):
    teacher = LinearTeacher(VPSchedule.cosine(4), [0.5, 2.0])
    with pytest.raises(DistillPlanError):
        relaxed_plan(teacher, model, np.ones(2))
