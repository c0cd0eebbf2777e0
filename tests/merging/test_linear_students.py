"""Trained diagonal linear students vs the closed-form merge model (design file §3)."""

import math

import numpy as np
import pytest
import torch

from distillplan import VPSchedule
from distillplan.errors import DistillPlanError
from distillplan.linear import LinearTeacher, MergeModel, Plan, canonical_plan, evaluate_plan
from distillplan.merging.linear_students import analytic_node_values, budget_for_lr, lr_for_budget, train_plan

torch.set_num_threads(1)

LAMS = [0.2, 1.0, 5.0]


def teacher(T=8, lams=LAMS, schedule="cosine"):
    sched = VPSchedule.cosine(T) if schedule == "cosine" else VPSchedule.linear_beta(T)
    return LinearTeacher(sched, np.asarray(lams, dtype=float))


# ------------------------------------------------------------------ s <-> (lr, steps)


@pytest.mark.parametrize("budget, steps", [(6.4, 1), (6.4, 100), (1.0, 7), (10.0, 1000), (0.0, 5)])
def test_lr_for_budget_is_exact(budget, steps):
    eta = lr_for_budget(budget, steps)
    assert (1.0 - eta) ** steps == pytest.approx(math.exp(-budget), rel=1e-12, abs=1e-300)
    assert budget_for_lr(eta, steps) == pytest.approx(budget, rel=1e-12, abs=1e-15)
    assert eta == pytest.approx(budget / steps, rel=budget / steps)  # s ≈ η·n for small η


def test_variance_rate_uses_the_euler_mapping():
    assert lr_for_budget(3.0, 300, "variance") == pytest.approx(0.01)
    assert budget_for_lr(0.01, 300, "variance") == pytest.approx(3.0)


def test_gd_with_the_mapped_lr_reaches_exp_minus_s():
    """(m_n − P) / (m_0 − P) = e^{−s} exactly with the exact expected loss."""
    te = teacher(4)
    plan = canonical_plan("vanilla", 4)
    for s, n in [(0.5, 3), (6.4, 50)]:
        res = train_plan(plan, te, MergeModel(s), steps=n, samples=None, dtype="float64")
        P = te.composite(4, 0)
        ratio = (res.root - P) / (te.step[4] - P)
        np.testing.assert_allclose(ratio, math.exp(-s), rtol=1e-10)
        assert res.budget == pytest.approx(s)


def test_explicit_lr_overrides_the_budget():
    te = teacher(4)
    res = train_plan(canonical_plan("boot", 4), te, MergeModel(100.0), lr=0.05, steps=40, samples=None,
                     dtype="float64")
    s = -40 * math.log1p(-0.05)
    assert res.budget == pytest.approx(s)
    np.testing.assert_allclose(res.root, evaluate_plan(canonical_plan("boot", 4), te, MergeModel(s)).root, rtol=1e-10)


# ------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("init", ["warm", "zero", "jump"])
def test_one_merge_plan_equals_the_closed_form(init):
    te = teacher(6)
    s = 2.0
    plan = canonical_plan("vanilla", 6)
    P = te.composite(6, 0)
    m0 = {"warm": te.step[6], "zero": np.zeros(3), "jump": te.jump(6, 0)}[init]
    closed = math.exp(-s) * m0 + (1 - math.exp(-s)) * P
    model = MergeModel(s, init=init)
    exact = train_plan(plan, te, model, steps=30, samples=None, dtype="float64")
    np.testing.assert_allclose(exact.root, closed, rtol=1e-12, atol=1e-15)
    sampled = train_plan(plan, te, model, steps=30, samples=4096, seed=3)
    np.testing.assert_allclose(sampled.root, closed, rtol=5e-3)


@pytest.mark.parametrize("init", ["warm", "zero", "jump"])
@pytest.mark.parametrize("name", ["progressive", "boot", "consistency"])
def test_every_node_matches_the_model_with_the_exact_loss(name, init):
    te = teacher(8)
    model = MergeModel(1.5, init=init)
    plan = canonical_plan(name, 8)
    res = train_plan(plan, te, model, steps=25, samples=None, dtype="float64")
    expected = analytic_node_values(plan, te, model)
    assert set(res.values) == set(expected) and len(res.values) == plan.stages
    for key, value in expected.items():
        np.testing.assert_allclose(res.values[key], value, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(res.root, evaluate_plan(plan, te, model).root, rtol=1e-11)


def test_sampled_training_of_a_mixed_plan_is_within_one_percent():
    te = teacher(6, schedule="linear")
    plan = Plan.parse("[[6,5,4],[[3,2],1]]")
    model = MergeModel(3.0)
    res = train_plan(plan, te, model, steps=40, samples=512, seed=1)
    for key, value in analytic_node_values(plan, te, model).items():
        np.testing.assert_allclose(res.values[key], value, rtol=1e-2)
    assert res.w2 == pytest.approx(evaluate_plan(plan, te, model).w2, rel=0.1)


def test_variance_rate_approaches_the_closed_form_with_small_steps():
    te = teacher(4)
    model = MergeModel(0.5, rate="variance")
    plan = canonical_plan("progressive", 4)
    res = train_plan(plan, te, model, steps=400, samples=None, dtype="float64")
    np.testing.assert_allclose(res.root, evaluate_plan(plan, te, model).root, rtol=2e-3)


def test_losses_are_recorded_and_decrease():
    te = teacher(4)
    res = train_plan(canonical_plan("boot", 4), te, MergeModel(6.4), steps=10, samples=None, record_losses=True)
    assert len(res.losses) == 3
    for trace in res.losses.values():
        assert trace.shape == (10,) and np.all(np.diff(trace) <= 0)


# ------------------------------------------------------------------ determinism and input checks


def test_same_seed_same_students_other_seed_differs():
    te = teacher(6)
    plan = canonical_plan("progressive", 6)
    a = train_plan(plan, te, MergeModel(1.0), steps=10, samples=64, seed=7)
    b = train_plan(plan, te, MergeModel(1.0), steps=10, samples=64, seed=7)
    c = train_plan(plan, te, MergeModel(1.0), steps=10, samples=64, seed=8)
    for key in a.values:
        np.testing.assert_array_equal(a.values[key], b.values[key])
    assert not np.array_equal(a.root, c.root)
    assert a.root.dtype == np.float64 and a.root.shape == (3,)


@pytest.mark.parametrize("kwargs, argument", [
    ({"steps": 0}, "steps"),
    ({"samples": 0}, "samples"),
    ({"dtype": "float16"}, "dtype"),
    ({"lr": 1.5}, "lr"),
    ({"lr": -0.1}, "lr"),
    ({"seed": -1}, "seed"),
])
def test_bad_input_names_the_argument(kwargs, argument):
    with pytest.raises(DistillPlanError) as exc:
        train_plan(canonical_plan("boot", 4), teacher(4), MergeModel(), **kwargs)
    assert exc.value.argument == argument


def test_plan_must_cover_the_teacher():
    with pytest.raises(DistillPlanError) as exc:
        train_plan(canonical_plan("boot", 5), teacher(4), MergeModel())
    assert exc.value.argument == "plan"
