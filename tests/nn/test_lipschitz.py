"""Measured Lipschitz constants and the RK4 teacher's gain orthogonal to the means."""

import math

import numpy as np
import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.mixture import IsotropicMixture, OUProcess, paper_means
from distillplan.flowmap import MixtureField, exact_linear_gain, rk4_flow_map, rk4_linear_gain, rk4_map
from distillplan.nn import MLP
from distillplan.nn.metrics import affine_fit, jacobian_spectral_norms, weight_spectral_product

DELTA = math.log(2.0) / 10.0  # the exp2 half-life at β = 5


pytestmark = pytest.mark.usefixtures("one_thread")


def _field(sigma0, dim=4, components=2, seed=3):
    means = np.random.default_rng(seed).uniform(-2.0, 2.0, (components, dim))
    return MixtureField(IsotropicMixture.equal_weights(means, sigma0), OUProcess(5.0, 1.0), torch.float64)


def test_jacobian_norms_of_a_linear_map():
    a = torch.randn(5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    norms = jacobian_spectral_norms(lambda v: a @ v, torch.randn(7, 4, dtype=torch.float64), chunk=3)
    assert norms.shape == (7,)
    torch.testing.assert_close(norms, torch.full((7,), float(torch.linalg.matrix_norm(a, 2)), dtype=torch.float64))
    with pytest.raises(DistillPlanError):
        jacobian_spectral_norms(lambda v: v, torch.zeros(3))


def test_relu_mlp_jacobians_stay_below_the_weight_spectral_product():
    net = MLP(6, 16, 3, "relu", generator=torch.Generator().manual_seed(1))
    norms = jacobian_spectral_norms(net, torch.randn(50, 6))
    bound = weight_spectral_product(net.weight_tensors())
    assert 0 < float(norms.max()) <= bound * (1 + 1e-5)
    assert weight_spectral_product([torch.eye(3) * 2, torch.eye(3) * 3]) == pytest.approx(6.0)
    assert weight_spectral_product([torch.zeros(2, 2), torch.eye(2)]) == 0.0


def test_rk4_map_is_the_teacher_and_differentiable():
    field = _field(0.3, dim=5, components=3)
    x = field.sample(0.4, 20, torch.Generator().manual_seed(2))
    torch.testing.assert_close(rk4_map(field, x, 0.4, 0.0, 12), rk4_flow_map(field, x, 0.4, 0.0, 12),
                               rtol=1e-10, atol=1e-10)
    assert torch.isfinite(jacobian_spectral_norms(lambda v: rk4_map(field, v, 0.4, 0.0, 12), x[:3])).all()


def test_orthogonal_gain_of_the_teacher():
    field = _field(0.2, dim=4, components=2)  # means span 2 of 4 dimensions
    means = torch.tensor(field.mixture.means)
    q, _ = torch.linalg.qr(means.t(), mode="complete")
    ortho = q[:, 2:]  # orthonormal basis of the complement of span{μ_k}
    x = field.sample(DELTA, 30, torch.Generator().manual_seed(4))
    for steps in (3, 10):
        y = rk4_map(field, x, DELTA, 0.0, steps)
        torch.testing.assert_close(y @ ortho, rk4_linear_gain(field, DELTA, 0.0, steps) * (x @ ortho),
                                   rtol=1e-9, atol=1e-9)
    assert rk4_linear_gain(field, DELTA, 0.0, 4000) == pytest.approx(exact_linear_gain(field, DELTA, 0.0), rel=1e-8)
    assert exact_linear_gain(field, DELTA, 0.0) == pytest.approx(0.2 / math.sqrt(field.variance(DELTA)))


def test_ten_rk4_steps_are_unstable_for_small_sigma0():
    """The exp2 teacher: 10 RK4 steps over [0, Δ] amplify instead of contracting once σ0 <= 0.01."""
    gains = {}
    for sigma0 in (0.1, 0.01, 1e-3, 1e-4):
        field = MixtureField(IsotropicMixture.equal_weights(paper_means(20, 64, 0), sigma0), OUProcess(5.0, 1.0),
                             torch.float64)
        gains[sigma0] = rk4_linear_gain(field, DELTA, 0.0, 10), exact_linear_gain(field, DELTA, 0.0)
    assert 0 < gains[0.1][0] < 1  # stable: 0.111 vs exact 0.141
    assert gains[0.01][0] == pytest.approx(-7.9545, rel=1e-4)
    assert gains[1e-3][0] == pytest.approx(-810.02, rel=1e-4)
    assert gains[1e-4][0] == pytest.approx(-81016.1, rel=1e-4)
    assert all(exact == pytest.approx(s * math.sqrt(2.0), rel=6e-3) for s, (_, exact) in gains.items())


def test_affine_fit_recovers_an_affine_map():
    gen = torch.Generator().manual_seed(5)
    a, b = torch.randn(4, 3, generator=gen, dtype=torch.float64), torch.randn(3, generator=gen, dtype=torch.float64)
    x = torch.randn(50, 4, generator=gen, dtype=torch.float64)
    fitted_a, fitted_b = affine_fit(x.float(), (x @ a + b).float())
    torch.testing.assert_close(fitted_a, a, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fitted_b, b, rtol=1e-4, atol=1e-4)
    with pytest.raises(DistillPlanError):
        affine_fit(x[:4], x[:4])
    with pytest.raises(DistillPlanError):
        affine_fit(x, x[:10])
