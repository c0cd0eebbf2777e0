"""The paper's phase transition under the default model (cosine, T = 32, s = 6.4)."""

import pytest

from distillplan import VPSchedule
from distillplan.linear import LinearTeacher, MergeModel
from distillplan.linear.compare import compare_strategies

SCHED = VPSchedule.cosine(32)
MODEL = MergeModel(6.4)


@pytest.mark.parametrize("lam", [0.2, 0.5, 1.0])
def test_boot_optimal_below_one(lam):
    cmp = compare_strategies(LinearTeacher(SCHED, [lam]), MODEL)
    assert cmp.equals == "boot"
    assert cmp.optimal.plan == cmp.strategies["boot"].plan
    assert cmp.optimal.certified


def test_transition_zone_is_non_canonical():
    cmp = compare_strategies(LinearTeacher(SCHED, [1.08]), MODEL)
    assert cmp.equals is None
    best = min(r.w2 for r in cmp.strategies.values())
    assert cmp.optimal.w2 * 3 <= best


@pytest.mark.parametrize("lam", [3.0, 5.0, 10.0])
def test_vanilla_optimal_above_three(lam):
    cmp = compare_strategies(LinearTeacher(SCHED, [lam]), MODEL)
    assert cmp.equals == "vanilla"
    assert cmp.optimal.w2 <= cmp.strategies["vanilla"].w2 <= cmp.optimal.w2 * (1 + 1e-9)
