import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillplan import DistillPlanError, VPSchedule
from distillplan.gaussian import w2_centred_diagonal
from distillplan.linear import LinearTeacher

LAMS = np.array([0.05, 0.3, 1.0, 1.08, 2.0, 7.5])


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_step_geometric_form(teacher_factory, schedule):
    """A*_t = (r_{t−1}/r_t)·cos(ψ_{t−1} − ψ_t) with v_t = (α_t √λ, σ_t)."""
    te = teacher_factory(LAMS, T=20, schedule=schedule)
    r = np.sqrt(te.r2)
    psi = te.angles()
    geometric = r[:-1] / r[1:] * np.cos(psi[:-1] - psi[1:])
    np.testing.assert_allclose(te.step[1:], geometric, rtol=1e-13)


def test_step_matches_definition(teacher_factory):
    te = teacher_factory(LAMS, T=12)
    a, s = te.schedule.alphas, te.schedule.sigmas
    for t in range(1, 13):
        expected = (a[t - 1] * a[t] * LAMS + s[t - 1] * s[t]) / (a[t] ** 2 * LAMS + s[t] ** 2)
        np.testing.assert_array_equal(te.step[t], expected)


def test_composites(teacher_factory):
    te = teacher_factory(LAMS, T=10)
    P = te.all_composites()
    for a in range(1, 11):
        for b in range(a):
            np.testing.assert_allclose(te.composite(a, b), np.prod(te.step[b + 1 : a + 1], axis=0), rtol=1e-14)
            np.testing.assert_allclose(P[a, b], te.composite(a, b), rtol=1e-13)
    np.testing.assert_array_equal(te.surrogate(), te.composite(10, 0))


@settings(max_examples=40, deadline=None)
@given(lam=st.floats(0.01, 50.0), T=st.integers(3, 40), data=st.data())
def test_composite_chains(lam, T, data):
    a = data.draw(st.integers(2, T))
    b = data.draw(st.integers(1, a - 1))
    c = data.draw(st.integers(0, b - 1))
    te = LinearTeacher(VPSchedule.cosine(T), [lam])
    np.testing.assert_allclose(te.composite(a, c), te.composite(a, b) * te.composite(b, c), rtol=1e-12)
    # a single big DDIM jump contracts more than composing the small steps
    assert np.all(te.jump(a, c) <= te.composite(a, c) * (1 + 1e-12))


@pytest.mark.parametrize("T", [2, 8, 32, 128])
def test_teacher_contracts(teacher_factory, T):
    """Teacher output std = √λ·Π cos(Δψ) < √λ."""
    te = teacher_factory(LAMS, T=T)
    psi = te.angles()
    np.testing.assert_allclose(te.output_std(), np.sqrt(LAMS) * np.prod(np.cos(np.diff(psi, axis=0)), axis=0),
                               rtol=1e-12)
    assert np.all(te.output_std() < np.sqrt(LAMS))
    assert te.w2_to_data() > 0


def test_contracting_regime(teacher_factory):
    """Under VP every teacher step contracts when λ ≤ 1."""
    te = teacher_factory(np.linspace(0.01, 1.0, 30), T=64)
    assert np.all(te.step[1:] <= 1.0)


def test_w2_centred_diagonal():
    assert w2_centred_diagonal([4.0, 9.0], [1.0, 1.0]) == pytest.approx(np.sqrt(1 + 4))
    assert w2_centred_diagonal([2.0], [2.0]) == 0.0
    assert w2_centred_diagonal([4.0, 9.0], [1.0, 1.0], weights=[2, 0]) == pytest.approx(np.sqrt(2))


@pytest.mark.parametrize("bad", [[0.0], [-1.0], [np.nan], [np.inf], []])
def test_rejects_bad_variances(bad):
    with pytest.raises(DistillPlanError) as err:
        LinearTeacher(VPSchedule.cosine(4), bad)
    assert err.value.argument == "lam"
