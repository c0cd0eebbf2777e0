"""The VP mixture teacher (distillplan.merging.vp_mixture): exact denoiser, DDIM steps, affine branches."""

import numpy as np
import pytest

from distillplan.errors import DistillPlanError
from distillplan.linear import LinearTeacher
from distillplan.mixture import IsotropicMixture
from distillplan.merging.vp_mixture import (
    branch_coefficients,
    branch_map,
    branch_statistics,
    centred,
    composite,
    coordinate_variances,
    ddim_step,
    denoise,
    responsibilities,
    sample_vp,
)
from distillplan.schedules import VPSchedule

from tests.mixture.helpers import random_mixture


@pytest.fixture
def mixture() -> IsotropicMixture:
    """d = 2, K = 3, unequal weights, σ0 = 0.6."""
    return random_mixture(np.random.default_rng(3), 3, 2, 0.6)


@pytest.fixture
def schedule() -> VPSchedule:
    return VPSchedule.cosine(8)


@pytest.mark.parametrize("t", [2, 4, 6])
def test_denoiser_is_the_monte_carlo_posterior_mean(mixture, schedule, t):
    """E[x0 | z_t = z] by self-normalised importance sampling over prior draws x0, within MC error."""
    rng = np.random.default_rng(t)
    x0 = mixture.sample(200_000, rng)
    a, s = schedule.alphas[t], schedule.sigmas[t]
    for z in sample_vp(mixture, schedule, t, 3, rng):
        logw = -((z - a * x0) ** 2).sum(1) / (2 * s * s)
        w = np.exp(logw - logw.max())
        w /= w.sum()
        mc = w @ x0
        ess = 1.0 / np.sum(w * w)
        se = np.sqrt((w @ (x0 - mc) ** 2) / ess)
        assert ess > 1000
        exact = denoise(mixture, schedule, z, t)
        assert np.all(np.abs(exact - mc) <= 5 * se + 1e-9), (exact, mc, se)


def test_denoiser_endpoints(mixture, schedule):
    z = sample_vp(mixture, schedule, 0, 5, 1)
    np.testing.assert_allclose(denoise(mixture, schedule, z, 0), z, atol=1e-12)  # t = 0: z is the data
    z = sample_vp(mixture, schedule, 8, 5, 1)  # t = T: pure noise, the posterior mean is the data mean
    np.testing.assert_allclose(denoise(mixture, schedule, z, 8), np.broadcast_to(mixture.weights @ mixture.means, z.shape),
                               atol=1e-12)
    gamma = responsibilities(mixture, schedule, z, 8)
    np.testing.assert_allclose(gamma, np.broadcast_to(mixture.weights, gamma.shape), atol=1e-12)


def test_single_component_is_the_linear_teacher(schedule):
    """K = 1 at mean 0: every DDIM step is A*_t per coordinate (λ = σ0²), the composite is P(a, b)."""
    sigma0 = 0.7
    single = IsotropicMixture([1.0], np.zeros((1, 3)), sigma0)
    lt = LinearTeacher(schedule, [sigma0**2] * 3)
    z = np.random.default_rng(0).standard_normal((6, 3))
    for t in range(1, 9):
        np.testing.assert_allclose(ddim_step(single, schedule, z, t), lt.step[t] * z, rtol=1e-12, atol=1e-12)
        assert branch_coefficients(single, schedule, t)[0] == pytest.approx(lt.step[t][0], rel=1e-12)
    for a, b in [(8, 0), (5, 2), (3, 0)]:
        np.testing.assert_allclose(composite(single, schedule, z, a, b), lt.composite(a, b) * z, rtol=1e-11, atol=1e-12)


def test_single_component_with_a_mean_is_linear_about_the_mean(schedule):
    """K = 1 at μ: z_{t−1} − α_{t−1} μ = A*_t (z_t − α_t μ)."""
    mu = np.array([1.5, -2.0])
    single = IsotropicMixture([1.0], mu[None, :], 0.5)
    lt = LinearTeacher(schedule, [0.25, 0.25])
    z = np.random.default_rng(1).standard_normal((4, 2))
    al = schedule.alphas
    for t in range(1, 9):
        out = ddim_step(single, schedule, z, t)
        np.testing.assert_allclose(out - al[t - 1] * mu, lt.step[t] * (z - al[t] * mu), atol=1e-12)


def test_branch_coefficients_equal_the_linear_step_for_every_mixture(mixture, schedule):
    lt = LinearTeacher(schedule, [mixture.sigma0**2])
    for t in range(1, 9):
        assert branch_coefficients(mixture, schedule, t)[0] == pytest.approx(lt.step[t][0], rel=1e-12)


def test_branch_statistics_on_a_toy_array():
    seq = np.array([[0, 1], [0, 1], [1, 1], [2, 0]])
    stats = branch_statistics(seq, threshold=0.3)
    assert stats.distinct == 3 and stats.massive == 1 and stats.samples == 4
    p = np.array([0.5, 0.25, 0.25])
    assert stats.effective == pytest.approx(np.exp(-(p * np.log(p)).sum()))
    assert stats.top_mass == 0.5
    assert branch_statistics(seq, threshold=0.0).massive == 3
    with pytest.raises(DistillPlanError):
        branch_statistics(np.zeros((0, 2)))


def test_separated_components_give_k_constant_branches(schedule):
    """Two far-apart components: near the data every gate is saturated, so a window of k steps uses
    exactly K branches (one constant sequence per component) and the hard-gated map is exact."""
    mix = IsotropicMixture.equal_weights(np.array([[-10.0, 0.0], [10.0, 0.0]]), 0.3)
    z = sample_vp(mix, schedule, 3, 4000, 2)
    out, seq = composite(mix, schedule, z, 3, 0, record=True)
    stats = branch_statistics(seq)
    assert stats.distinct == 2 and stats.massive == 2
    assert np.all(seq == seq[:, :1])  # the component never changes along the way
    assert stats.effective == pytest.approx(2.0, rel=0.01)
    np.testing.assert_allclose(branch_map(mix, schedule, z, 3, seq), out, atol=1e-8)
    # at pure noise every z has the same gate (γ = π): one branch per step, whatever z is
    zT = sample_vp(mix, schedule, 8, 100, 3)
    _, seqT = composite(mix, schedule, zT, 8, 7, record=True)
    assert branch_statistics(seqT).distinct == 1


def test_branches_grow_with_k_but_far_below_K_to_the_k(schedule):
    mix = centred(random_mixture(np.random.default_rng(5), 4, 2, 0.5))
    counts = []
    for k in (1, 2, 4, 8):
        _, seq = composite(mix, schedule, sample_vp(mix, schedule, k, 4000, k), k, 0, record=True)
        counts.append(branch_statistics(seq).distinct)
    assert counts[0] <= 4 and counts == sorted(counts) and counts[-1] > counts[0]
    assert counts[-1] < 4**8


def test_composite_chains_steps_and_records_per_step_gates(mixture, schedule):
    z = sample_vp(mixture, schedule, 5, 50, 4)
    out, seq = composite(mixture, schedule, z, 5, 2, record=True)
    step = z
    for j, t in enumerate((5, 4, 3)):
        gamma = responsibilities(mixture, schedule, step, t)
        np.testing.assert_array_equal(seq[:, j], gamma.argmax(1))
        step = ddim_step(mixture, schedule, step, t)
    np.testing.assert_allclose(out, step)
    single_out, single_seq = composite(mixture, schedule, z[0], 5, 2, record=True)
    np.testing.assert_allclose(single_out, out[0])
    np.testing.assert_array_equal(single_seq, seq[0])


def test_coordinate_variances_and_centring(mixture):
    lam = coordinate_variances(mixture)
    x = mixture.sample(200_000, 0)
    np.testing.assert_allclose(lam, x.var(0), rtol=0.02)
    c = centred(mixture)
    np.testing.assert_allclose(c.weights @ c.means, 0.0, atol=1e-12)
    np.testing.assert_allclose(coordinate_variances(c), lam, rtol=1e-12)


@pytest.mark.parametrize("call", [
    lambda m, s: ddim_step(m, s, np.zeros(2), 0),
    lambda m, s: denoise(m, s, np.zeros(2), 9),
    lambda m, s: denoise(m, s, np.zeros(3), 1),
    lambda m, s: composite(m, s, np.zeros(2), 3, 3),
    lambda m, s: branch_map(m, s, np.zeros(2), 2, [0, 1, 2]),
    lambda m, s: branch_map(m, s, np.zeros(2), 2, [0, 7]),
])
def test_bad_input_raises(mixture, schedule, call):
    with pytest.raises(DistillPlanError):
        call(mixture, schedule)
