"""Every planner against exhaustive enumeration (the ground truth) on small T."""

import numpy as np
import pytest

from distillplan import DistillPlanError, VPSchedule
from distillplan.linear import LinearTeacher, MergeModel, evaluate_plan, exhaustive_plan, optimal_plan
from distillplan.linear.planners import coordinate_bounds, oriented_tables

# Rounding floor: W2 differences below ~1e-15 are float64 noise in M − P*, not planner error.
FLOOR = 1e-15
MODELS = [MergeModel(6.4), MergeModel(1.0), MergeModel(3.0, "zero"), MergeModel(3.0, "jump"),
          MergeModel(0.5, "warm", "variance")]


def _close(a, b):
    return abs(a - b) <= 1e-9 * max(a, b) + FLOOR


def _scalar_cases():
    rng = np.random.default_rng(1)
    for T in range(2, 8):
        lams = [0.3, 1.0, 1.08, 1.3, 2.0, 5.0] + list(np.exp(rng.uniform(np.log(0.05), np.log(20), 3)))
        for lam in lams:
            yield T, float(lam)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name + f",s={m.budget}")
def test_scalar_all_solvers_match_exhaustive(model):
    for T, lam in _scalar_cases():
        te = LinearTeacher(VPSchedule.cosine(T), [lam])
        truth = exhaustive_plan(te, model)
        for solver in ("auto", "pareto"):
            got = optimal_plan(te, model, solver=solver)
            assert _close(got.w2, truth.w2), (T, lam, solver, got.plan, truth.plan)
            assert got.certified
            assert evaluate_plan(got.plan, te, model).w2 == got.w2


@pytest.mark.parametrize("model", MODELS[:3], ids=lambda m: m.name + f",s={m.budget}")
def test_diagonal_matches_exhaustive(model):
    rng = np.random.default_rng(2)
    for trial in range(24):
        T = int(rng.integers(2, 8))
        distinct = np.exp(rng.uniform(np.log(0.1), np.log(6.0), int(rng.integers(1, 4))))
        if trial % 3 == 0:
            distinct = rng.uniform(1.0, 1.6, distinct.size)  # the transition zone
        lam = np.repeat(distinct, rng.integers(1, 4, distinct.size))
        te = LinearTeacher(VPSchedule.cosine(T), lam)
        truth = exhaustive_plan(te, model)
        for solver in ("auto", "pareto"):
            got = optimal_plan(te, model, solver=solver)
            assert _close(got.w2, truth.w2), (T, lam, solver)
            assert got.certified


def test_oriented_dp_exact_when_contracting():
    model = MergeModel(6.4)
    for T in range(2, 8):
        for lam in (0.1, 0.5, 1.0):
            te = LinearTeacher(VPSchedule.cosine(T), [lam])
            assert np.all(te.step[1:] <= 1)
            res = optimal_plan(te, model, solver="dp")
            assert res.solver == "dp" and res.certified
            assert _close(res.w2, exhaustive_plan(te, model).w2)


def test_bounds_bracket_every_plan():
    te = LinearTeacher(VPSchedule.cosine(6), [0.4, 1.2, 4.0])
    model = MergeModel(2.0)
    lo, hi, orient, _, _ = coordinate_bounds(te, model)
    from distillplan.linear import enumerate_plans

    roots = np.array([evaluate_plan(p, te, model).root for p in enumerate_plans(6)])
    np.testing.assert_allclose(roots.min(axis=0), lo, rtol=1e-14)
    np.testing.assert_allclose(roots.max(axis=0), hi, rtol=1e-14)
    P = te.surrogate()
    for i, o in enumerate(orient):
        if o > 0:
            assert np.all(roots[:, i] >= P[i])
        elif o < 0:
            assert np.all(roots[:, i] <= P[i])


@pytest.mark.parametrize("lam", [[0.5], [1.08], [3.0], [0.3, 1.2, 2.5]])
def test_max_stages_and_front_match_exhaustive(lam):
    model = MergeModel(6.4)
    for T in (4, 6, 7):
        te = LinearTeacher(VPSchedule.cosine(T), lam)
        truth = exhaustive_plan(te, model)
        got = optimal_plan(te, model, front=True)
        assert [p.stages for p in got.front] == [p.stages for p in truth.front]
        for a, b in zip(got.front, truth.front):
            assert _close(a.w2, b.w2) and a.plan.stages <= a.stages
        for K in (1, 2, T - 1):
            limited = optimal_plan(te, model, max_stages=K)
            assert limited.plan.stages <= K
            assert _close(limited.w2, exhaustive_plan(te, model, max_stages=K).w2)


def test_oriented_tables_reconstruct_their_value():
    te = LinearTeacher(VPSchedule.cosine(40), [0.3, 2.0])
    model = MergeModel(6.4)
    for sign in (1.0, -1.0):
        tab = oriented_tables(te, model, sign)
        for i in range(2):
            root = evaluate_plan(tab.plan(i), te, model).root[i]
            assert root == pytest.approx(tab.root[i], rel=1e-13)


def test_dedup_equal_lambdas():
    te = LinearTeacher(VPSchedule.cosine(6), [0.5, 0.5, 0.5, 1.3])
    res = optimal_plan(te, MergeModel(6.4))
    assert res.stats["distinct_lambdas"] == 2


def test_solver_errors():
    te = LinearTeacher(VPSchedule.cosine(10), [1.08])
    with pytest.raises(DistillPlanError, match="solver"):
        optimal_plan(te, solver="magic")
    with pytest.raises(DistillPlanError, match="exhaustive"):
        optimal_plan(te, solver="exhaustive")
    with pytest.raises(DistillPlanError, match="max_stages"):
        optimal_plan(te, max_stages=0)
    with pytest.raises(DistillPlanError) as err:
        optimal_plan(LinearTeacher(VPSchedule.cosine(1), [1.0]))
    assert err.value.argument == "steps"
