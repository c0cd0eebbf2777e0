"""distillplan.mixture.model: mixtures, OU marginals, score, PF velocity and its Jacobian."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from distillplan.errors import DistillPlanError
from distillplan.mixture import (
    IsotropicMixture,
    OUProcess,
    log_density,
    pf_velocity,
    responsibilities,
    sample_marginal,
    score,
    velocity_jacobian,
)

from .helpers import random_mixture


def _central_difference(f, x: np.ndarray, h: float) -> np.ndarray:
    """Jacobian ``∂f_i/∂x_j`` of ``f: (d,) -> (m,)`` (or the gradient of a scalar f) at one point."""
    cols = [(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)]
    return np.stack(cols, axis=-1)


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"weights": [1.0, 1.0], "means": [[0.0], [1.0]], "sigma0": 0.0}, "sigma0"),
        ({"weights": [1.0, 1.0], "means": [[0.0], [1.0]], "sigma0": -1.0}, "sigma0"),
        ({"weights": [1.0, 0.0], "means": [[0.0], [1.0]], "sigma0": 1.0}, "weights"),
        ({"weights": [1.0], "means": [[0.0], [1.0]], "sigma0": 1.0}, "weights"),
        ({"weights": [1.0, 1.0], "means": [[0.0], [np.nan]], "sigma0": 1.0}, "means"),
        ({"weights": [1.0, 1.0], "means": [0.0, 1.0], "sigma0": 1.0}, "means"),
    ],
)
def test_mixture_rejects_bad_parameters(kwargs, argument):
    with pytest.raises(DistillPlanError) as info:
        IsotropicMixture(**kwargs)
    assert info.value.argument == argument


def test_mixture_normalises_weights():
    mix = IsotropicMixture([2.0, 6.0], [[0.0, 0.0], [1.0, 1.0]], 0.5)
    np.testing.assert_allclose(mix.weights, [0.25, 0.75])
    assert (mix.components, mix.dim) == (2, 2)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"beta": 0.0, "horizon": 1.0}, "beta"), ({"beta": 5.0, "horizon": -1.0}, "horizon"),
     ({"beta": 5.0, "horizon": 1.0, "sigma_inf": 2.0}, "sigma_inf")],
)
def test_process_rejects_bad_parameters(kwargs, argument):
    with pytest.raises(DistillPlanError) as info:
        OUProcess(**kwargs)
    assert info.value.argument == argument


def test_negative_time_and_wrong_point_shape_are_rejected(paper_process):
    mix = random_mixture(np.random.default_rng(0), 3, 4, 0.5)
    with pytest.raises(DistillPlanError, match="^t:"):
        score(np.zeros((2, 4)), mix, paper_process, -0.1)
    with pytest.raises(DistillPlanError, match="^x:"):
        score(np.zeros((2, 3)), mix, paper_process, 0.1)


# ---------------------------------------------------------------------- OU process
def test_marginal_variance_and_means(paper_process):
    mix = random_mixture(np.random.default_rng(1), 3, 2, 0.2)
    for t in (0.0, 1e-6, 0.05, 1.0):
        decay = np.exp(-2 * 5.0 * t)
        marginal = paper_process.marginal(mix, t)
        assert marginal.sigma0**2 == pytest.approx(decay * 0.04 + 1 - decay, rel=1e-14)
        np.testing.assert_allclose(marginal.means, np.exp(-5.0 * t) * mix.means, rtol=1e-15)
    assert OUProcess(5.0, 1.0).variance(3.0, 1.0) == 1.0  # σ0 = σ_∞ = 1: s_t ≡ 1


def test_noise_to_signal_and_log_snr_round_trip(paper_process):
    t = np.array([1e-7, 0.01, 0.3, 1.0])
    naive = np.sqrt(np.exp(10 * t[1:]) - 1)  # exp − 1 loses digits for tiny t: compare there by series
    np.testing.assert_allclose(paper_process.noise_to_signal(t[1:]), naive, rtol=1e-12)
    assert paper_process.noise_to_signal(t[0]) == pytest.approx(np.sqrt(1e-6 + 0.5e-12), rel=1e-14)
    np.testing.assert_allclose(paper_process.time_of_noise_to_signal(paper_process.noise_to_signal(t)), t, rtol=1e-12)
    np.testing.assert_allclose(paper_process.time_of_log_snr(paper_process.log_snr(t)), t, rtol=1e-12)


def test_sampling_is_seeded_and_has_the_marginal_moments(paper_process):
    mix = IsotropicMixture([0.5, 0.3, 0.2], [[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]], 0.2)
    a = sample_marginal(mix, paper_process, 0.1, 40_000, seed=3)
    b = sample_marginal(mix, paper_process, 0.1, 40_000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (40_000, 2)
    marginal = paper_process.marginal(mix, 0.1)
    np.testing.assert_allclose(a.mean(0), mix.weights @ marginal.means, atol=0.03)
    labels = responsibilities(a, mix, paper_process, 0.1).argmax(1)
    np.testing.assert_allclose(np.bincount(labels) / labels.size, mix.weights, atol=0.01)
    within = a[labels == 0] - marginal.means[0]
    assert within.std() == pytest.approx(marginal.sigma0, rel=0.02)


# ---------------------------------------------------------------------- density, score
def test_log_density_matches_scipy(paper_process):
    rng = np.random.default_rng(2)
    mix = random_mixture(rng, 3, 3, 0.7)
    t = 0.08
    x = rng.normal(size=(5, 3))
    marginal = paper_process.marginal(mix, t)
    expected = np.log(sum(w * multivariate_normal(m, marginal.sigma0**2 * np.eye(3)).pdf(x)
                          for w, m in zip(marginal.weights, marginal.means)))
    np.testing.assert_allclose(log_density(x, mix, paper_process, t), expected, rtol=1e-12)


def test_responsibilities_are_stable_far_from_the_data(paper_process):
    mix = IsotropicMixture.equal_weights([[0.0], [1.0]], 1e-4)
    gamma = responsibilities(np.array([[1e6], [-1e6], [0.5]]), mix, paper_process, 0.0)
    assert np.all(np.isfinite(gamma))
    np.testing.assert_allclose(gamma, [[0, 1], [1, 0], [0.5, 0.5]], atol=1e-12)
    assert np.isfinite(log_density(np.array([[1e6]]), mix, paper_process, 0.0)).all()


@pytest.mark.parametrize(("sigma0", "t"), [(0.5, 0.0), (0.3, 0.02), (1.0, 0.1), (2.0, 0.5)])
def test_score_is_gradient_of_log_density(paper_process, sigma0, t):
    rng = np.random.default_rng(4)
    mix = random_mixture(rng, 4, 3, sigma0)
    x = rng.normal(size=3)
    fd = _central_difference(lambda y: log_density(y, mix, paper_process, t), x, 1e-6)
    np.testing.assert_allclose(score(x, mix, paper_process, t), fd, rtol=1e-6, atol=1e-7)


def test_single_point_and_batch_agree(paper_process):
    rng = np.random.default_rng(5)
    mix = random_mixture(rng, 3, 4, 0.5)
    x = rng.normal(size=(6, 4))
    for fn in (score, pf_velocity, velocity_jacobian, log_density, responsibilities):
        np.testing.assert_allclose(fn(x[2], mix, paper_process, 0.1), fn(x, mix, paper_process, 0.1)[2])


# ---------------------------------------------------------------------- PF velocity, Jacobian
def test_pf_velocity_formula(paper_process):
    rng = np.random.default_rng(6)
    mix = random_mixture(rng, 3, 2, 0.4)
    x = rng.normal(size=(7, 2))
    expected = -5.0 * (x + score(x, mix, paper_process, 0.2))
    np.testing.assert_allclose(pf_velocity(x, mix, paper_process, 0.2), expected, rtol=1e-15)


@pytest.mark.parametrize(("sigma0", "t"), [(0.2, 0.0), (0.2, 0.01), (0.5, 0.05), (1.0, 0.0), (1.5, 0.3)])
def test_jacobian_matches_central_differences(paper_process, sigma0, t):
    rng = np.random.default_rng(7)
    mix = random_mixture(rng, 4, 3, sigma0)
    marginal = paper_process.marginal(mix, t)
    # points between the means, where the responsibilities (and so J) vary the most
    x = marginal.means[:3] * 0.5 + marginal.means[1:] * 0.5 + 0.05 * rng.normal(size=(3, 3))
    jac = velocity_jacobian(x, mix, paper_process, t)
    assert jac.shape == (3, 3, 3)
    for xi, ji in zip(x, jac):
        h = 1e-5 * marginal.sigma0
        fd = _central_difference(lambda y: pf_velocity(y, mix, paper_process, t), xi, h)
        assert np.linalg.norm(ji - fd) <= 1e-6 * np.linalg.norm(ji)
        np.testing.assert_allclose(ji, ji.T, rtol=0, atol=1e-12 * np.abs(ji).max())
