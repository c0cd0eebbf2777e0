import numpy as np
import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.mixture import IsotropicMixture, log_density, paper_means, pf_velocity, responsibilities, score
from distillplan.flowmap import MixtureField

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("t", [0.0, 0.013, 0.07, 0.4, 1.0])
def test_score_velocity_density_match_numpy(small_mixture, process, t):
    field = MixtureField(small_mixture, process, torch.float64)
    x = np.random.default_rng(1).normal(scale=2.0, size=(50, 3))
    xt = torch.tensor(x)
    np.testing.assert_allclose(field.score(xt, t).numpy(), score(x, small_mixture, process, t), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(field.velocity(xt, t).numpy(), pf_velocity(x, small_mixture, process, t),
                               rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(field.log_density(xt, t).numpy(), log_density(x, small_mixture, process, t), rtol=1e-12)
    np.testing.assert_allclose(field.responsibilities(xt, t).numpy(), responsibilities(x, small_mixture, process, t),
                               atol=1e-12)
    # v = −β(x + score) (σ_∞ = 1)
    np.testing.assert_allclose(field.velocity(xt, t).numpy(), -process.beta * (x + field.score(xt, t).numpy()), atol=1e-11)


def test_paper_mixture_velocity_float32_close_to_float64(process):
    mixture = IsotropicMixture.equal_weights(paper_means(20, 64, 0), 1.0)
    x = mixture.sample(200, 3)
    v64 = pf_velocity(x, mixture, process, 0.05)
    v32 = MixtureField(mixture, process).velocity(torch.tensor(x, dtype=torch.float32), 0.05).double().numpy()
    assert np.abs(v32 - v64).max() / np.abs(v64).max() < 1e-5


def test_batched_shapes(small_mixture, process):
    field = MixtureField(small_mixture, process, torch.float64)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    assert field.velocity(x, 0.2).shape == (2, 5, 3)
    assert field.log_density(x, 0.2).shape == (2, 5)
    np.testing.assert_allclose(field.velocity(x, 0.2).reshape(10, 3), field.velocity(x.reshape(10, 3), 0.2))


def test_sampling_is_seeded_and_has_the_marginal_moments(small_mixture, process):
    field = MixtureField(small_mixture, process, torch.float64)
    t = 0.1
    a = field.sample(t, 10, torch.Generator().manual_seed(3))
    b = field.sample(t, 10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    x = field.sample(t, 200_000, torch.Generator().manual_seed(4)).numpy()
    marginal = process.marginal(small_mixture, t)
    mean = marginal.weights @ marginal.means
    centred = marginal.means - mean
    cov = (marginal.weights[:, None] * centred).T @ centred + marginal.sigma0**2 * np.eye(3)
    np.testing.assert_allclose(x.mean(0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.03)


def test_subspace_basis_spans_the_means(process):
    means = np.random.default_rng(0).normal(size=(3, 6))
    field = MixtureField(IsotropicMixture.equal_weights(means, 0.7), process, torch.float64)
    basis, reduced = field.subspace()
    assert basis.shape == (6, 3) and reduced.dim == 3
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)
    projected = torch.tensor(means) @ basis @ basis.T
    np.testing.assert_allclose(projected.numpy(), means, atol=1e-12)
    full_rank = MixtureField(IsotropicMixture.equal_weights(np.random.default_rng(1).normal(size=(5, 2)), 0.7), process)
    assert full_rank.subspace() is None


def test_bad_inputs(small_mixture, process):
    with pytest.raises(DistillPlanError):
        MixtureField(small_mixture, process, torch.float16)
    with pytest.raises(DistillPlanError):
        MixtureField("nope", process)
    field = MixtureField(small_mixture, process)
    with pytest.raises(DistillPlanError):
        field.velocity(torch.zeros(2, 3), -0.1)
