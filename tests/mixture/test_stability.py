"""distillplan.mixture.stability: L(t), A(t) (closed form vs quadrature) and the paper's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillplan.errors import DistillPlanError
from distillplan.mixture import (
    OUProcess,
    amplification_factor,
    cumulative_stability,
    cumulative_stability_quadrature,
    lipschitz_bound,
    mean_diameter,
    velocity_jacobian,
)

from .helpers import PAPER_D0, random_mixture, two_point_mixture


def _spectral_norms(jac: np.ndarray) -> np.ndarray:
    return np.abs(np.linalg.eigvalsh(jac)).max(axis=-1)  # J_v is symmetric


def test_mean_diameter():
    assert mean_diameter([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]]) == 5.0
    assert mean_diameter([[1.0, 2.0]]) == 0.0
    with pytest.raises(DistillPlanError, match="^means:"):
        mean_diameter([1.0, 2.0])


# ---------------------------------------------------------------------- L(t) bounds ||J_v||
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    components=st.integers(2, 6),
    dim=st.integers(1, 8),
    log_sigma0=st.floats(-1.5, 0.3),
    beta=st.floats(0.5, 10.0),
    t=st.floats(0.0, 1.0),
)
def test_lipschitz_bound_dominates_jacobian_norm(seed, components, dim, log_sigma0, beta, t):
    rng = np.random.default_rng(seed)
    mix = random_mixture(rng, components, dim, 10.0**log_sigma0)
    process = OUProcess(beta, 1.0)
    means_t = process.marginal(mix, t).means
    pairs = rng.integers(0, components, size=(16, 2))
    midpoints = 0.5 * (means_t[pairs[:, 0]] + means_t[pairs[:, 1]]) + 1e-3 * rng.normal(size=(16, dim))
    x = np.concatenate([rng.uniform(-4, 4, size=(16, dim)), midpoints])
    norms = _spectral_norms(velocity_jacobian(x, mix, process, t))
    assert np.all(norms <= lipschitz_bound(t, mix, process) * (1 + 1e-12))


@pytest.mark.parametrize(("t", "expected"), [(0.0, 45.0), (0.05, 27.2939), (0.2, 6.0901)])
def test_lipschitz_bound_is_attained_at_the_midpoint(paper_process, t, expected):
    mix = two_point_mixture(6.0, 1.0, dim=3)  # means ±3 e_1, σ0 = 1 so s_t ≡ 1
    norm = _spectral_norms(velocity_jacobian(np.zeros(3), mix, paper_process, t))
    bound = lipschitz_bound(t, mix, paper_process)
    assert norm == pytest.approx(bound, rel=1e-12)
    assert bound == pytest.approx(expected, abs=5e-5)  # research values are rounded to 4 decimals
    assert bound == pytest.approx(5.0 * 36.0 * np.exp(-10 * t) / 4, rel=1e-14)


def test_lipschitz_bound_in_the_paper_setting(paper_process):
    mix = two_point_mixture(PAPER_D0, 1.0)
    low, high = lipschitz_bound(np.array([0.0, 1.0]), mix, paper_process)
    assert low == pytest.approx(2100.9755, rel=1e-7)
    assert high == pytest.approx(0.095384, rel=1e-5)
    for sigma0 in (0.1, 0.01, 1e-3, 1e-4):  # L(0) ≈ 2.10e7, 2.10e11, 2.10e15, 2.10e19
        l0 = lipschitz_bound(0.0, two_point_mixture(PAPER_D0, sigma0), paper_process)
        assert l0 == pytest.approx(2.10e3 / sigma0**4, rel=5e-3)


# ---------------------------------------------------------------------- A(t)
SIGMAS = (2.0, 1.0, 0.5, 0.1, 0.01, 1e-3, 1e-4)


@pytest.mark.parametrize("sigma0", SIGMAS)
def test_closed_form_matches_quadrature(paper_process, sigma0):
    mix = two_point_mixture(PAPER_D0, sigma0)
    t = np.array([1e-12, 1e-9, 1e-6, 1e-4, 0.01, 0.1, 0.5, 1.0])
    np.testing.assert_allclose(cumulative_stability(t, mix, paper_process),
                               cumulative_stability_quadrature(t, mix, paper_process), rtol=1e-10, atol=0)


def test_closed_form_matches_quadrature_on_random_mixtures():
    rng = np.random.default_rng(11)
    for _ in range(5):
        mix = random_mixture(rng, 4, 3, 10.0 ** rng.uniform(-3, 0.5))
        process = OUProcess(rng.uniform(0.5, 10), 2.0)
        t = rng.uniform(0, 2, size=4)
        np.testing.assert_allclose(cumulative_stability(t, mix, process),
                                   cumulative_stability_quadrature(t, mix, process), rtol=1e-10)


@pytest.mark.parametrize(
    ("sigma0", "expected", "rel"),
    [(1.0, 210.08801, 1e-7), (2.0, 53.20793, 1e-7), (0.5, 841.0738, 1e-7), (0.1, 21012.048, 1e-7),
     (0.01, 2.10098e6, 1e-5)],
)
def test_total_budget_matches_research_numbers(paper_process, sigma0, expected, rel):
    assert cumulative_stability(1.0, two_point_mixture(PAPER_D0, sigma0), paper_process) == pytest.approx(expected, rel=rel)


def test_budget_numbers_at_short_times(paper_process):
    assert cumulative_stability(0.1, two_point_mixture(PAPER_D0, 1.0), paper_process) == pytest.approx(132.80698, rel=1e-7)
    delta = np.log(2) / 10  # exp2's "OU half-life": A(Δ) = 1.05e2, 2.08e4, 2.10e6 for σ0 = 1, 0.1, 0.01
    for sigma0, expected in [(1.0, 1.05e2), (0.1, 2.08e4), (0.01, 2.10e6)]:
        value = cumulative_stability(delta, two_point_mixture(PAPER_D0, sigma0), paper_process)
        assert value == pytest.approx(expected, rel=5e-3)


def test_sigma0_one_has_the_simple_form(paper_process):
    t = np.linspace(0, 1, 7)
    np.testing.assert_allclose(cumulative_stability(t, two_point_mixture(PAPER_D0, 1.0), paper_process),
                               PAPER_D0**2 / 8 * (1 - np.exp(-10 * t)), rtol=1e-14)


def test_budget_is_increasing_and_its_derivative_is_L(paper_process):
    mix = two_point_mixture(PAPER_D0, 0.3)
    t = np.linspace(0.01, 1, 50)
    h = 1e-5
    a = cumulative_stability(t, mix, paper_process)
    assert np.all(np.diff(a) > 0) and cumulative_stability(0.0, mix, paper_process) == 0.0
    derivative = (cumulative_stability(t + h, mix, paper_process) - cumulative_stability(t - h, mix, paper_process)) / (2 * h)
    np.testing.assert_allclose(derivative, lipschitz_bound(t, mix, paper_process), rtol=1e-5)


def test_amplification_factor(paper_process):
    mix = two_point_mixture(6.0, 1.0)
    budget = cumulative_stability(0.5, mix, paper_process) - cumulative_stability(0.2, mix, paper_process)
    assert amplification_factor(0.5, 0.2, mix, paper_process) == pytest.approx(np.exp(budget), rel=1e-14)
    assert amplification_factor(0.2, 0.5, mix, paper_process) == pytest.approx(np.exp(budget), rel=1e-14)
    assert np.isinf(amplification_factor(1.0, 0.0, two_point_mixture(PAPER_D0, 0.1), paper_process))


def test_times_are_validated(paper_process):
    mix = two_point_mixture(6.0, 1.0)
    with pytest.raises(DistillPlanError, match="^t:"):
        lipschitz_bound([0.1, -0.2], mix, paper_process)
    with pytest.raises(DistillPlanError, match="^t:"):
        cumulative_stability(np.nan, mix, paper_process)
