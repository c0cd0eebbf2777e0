import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from distillplan import DistillPlanError
from distillplan.linear import MergeModel, Plan, evaluate_plan, vanilla


@pytest.mark.parametrize("rate", ["normalized", "variance"])
@pytest.mark.parametrize("s", [0.3, 1.0, 6.4])
def test_warm_start_equals_gradient_flow(teacher_factory, rate, s):
    """The closed form w·m(0) + (1 − w)·P equals the integrated gradient flow of the stage loss.

    Stage loss for a student m at input time a toward the target P, z_a ~ N(0, r_a²):
    normalized ½E[(m z − P z)²]/E[z²] = ½(m − P)² (flow dm/dτ = −(m − P)); unnormalized
    E[(m z − P z)²] = r_a²(m − P)² (flow dm/dτ = −2 r_a² (m − P)).
    """
    te = teacher_factory([0.2, 1.0, 3.0], T=6)
    a, b = 6, 3
    P = te.composite(a, b)
    m0 = te.step[a]
    r2 = te.r2[a]
    scale = np.ones(3) if rate == "normalized" else 2 * r2  # dm/dτ = −scale·(m − P)
    sol = solve_ivp(lambda _, m: -scale * (m - P), (0, s), m0, rtol=1e-12, atol=1e-14)
    model = MergeModel(s, "warm", rate)
    closed = model.combine(te, a, b, m0, P / m0)
    np.testing.assert_allclose(sol.y[:, -1], closed, rtol=1e-9)


def test_vanilla_closed_form(teacher_factory):
    te = teacher_factory([0.5, 1.5], T=5)
    w = np.exp(-6.4)
    res = evaluate_plan(vanilla(5), te, MergeModel(6.4))
    np.testing.assert_allclose(res.root, w * te.step[5] + (1 - w) * te.surrogate(), rtol=1e-15)
    expected = np.sqrt(np.sum(te.r2[-1] * (res.root - te.surrogate()) ** 2))
    assert res.w2 == pytest.approx(expected, rel=1e-14)
    w2d = np.sqrt(np.sum((np.sqrt(te.r2[-1]) * np.abs(res.root) - np.sqrt(te.lam)) ** 2))
    assert res.w2_data == pytest.approx(w2d, rel=1e-14)


def test_inits(teacher_factory):
    te = teacher_factory([0.7], T=4)
    w = np.exp(-2.0)
    P = te.surrogate()
    zero = evaluate_plan(vanilla(4), te, MergeModel(2.0, "zero")).root
    jump = evaluate_plan(vanilla(4), te, MergeModel(2.0, "jump")).root
    np.testing.assert_allclose(zero, (1 - w) * P, rtol=1e-15)
    np.testing.assert_allclose(jump, w * te.jump(4, 0) + (1 - w) * P, rtol=1e-15)


def test_nested_plan_by_hand(teacher_factory):
    te = teacher_factory([1.3], T=4)
    m = MergeModel(1.0)
    w = np.exp(-1.0)
    A = te.step
    inner = w * A[4] + (1 - w) * A[4] * A[3]  # [4,3]
    right = w * A[2] + (1 - w) * A[2] * A[1]  # [2,1]
    root = w * inner + (1 - w) * inner * right
    res = evaluate_plan(Plan.parse("[[4,3],[2,1]]"), te, m)
    np.testing.assert_allclose(res.root, root, rtol=1e-15)


def test_infinite_budget_reaches_surrogate(teacher_factory):
    te = teacher_factory([0.4, 2.0], T=6)
    res = evaluate_plan(Plan.parse("[[6,5,4],[[3,2],1]]"), te, MergeModel(800.0))
    np.testing.assert_allclose(res.root, te.surrogate(), rtol=1e-14)


@settings(max_examples=50, deadline=None)
@given(x=st.floats(0.1, 3.0), y=st.floats(0.1, 3.0), dx=st.floats(1e-6, 1.0), s=st.floats(0.0, 10.0),
       init=st.sampled_from(["warm", "zero", "jump"]))
def test_node_value_increasing(x, y, dx, s, init):
    from distillplan import VPSchedule
    from distillplan.linear import LinearTeacher

    te = LinearTeacher(VPSchedule.cosine(4), [1.0])
    m = MergeModel(s, init)
    base = m.combine(te, 4, 0, np.array([x]), np.array([y]))
    assert m.combine(te, 4, 0, np.array([x + dx]), np.array([y]))[0] >= base[0]
    assert m.combine(te, 4, 0, np.array([x]), np.array([y + dx]))[0] >= base[0]


@pytest.mark.parametrize("kw, arg", [({"budget": -1}, "budget"), ({"init": "ema"}, "init"),
                                     ({"rate": "fast"}, "rate"), ({"budget": float("nan")}, "budget")])
def test_model_validation(kw, arg):
    with pytest.raises(DistillPlanError) as err:
        MergeModel(**kw)
    assert err.value.argument == arg
