"""MixtureField: the torch velocity and its autodiff Jacobian against the float64 numpy closed forms."""

import numpy as np
import pytest
import torch

from distillplan import DistillPlanError
from distillplan.mixture.model import IsotropicMixture, OUProcess, pf_velocity, velocity_jacobian
from distillplan.models import OUVP, MixtureField, probe

TIMES = [0.0, 1e-3, 0.05, 0.3, 1.0]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def field():
    rng = np.random.default_rng(0)
    mixture = IsotropicMixture(np.array([0.2, 0.5, 0.3]), 2.0 * rng.standard_normal((3, 4)) + 3.0, 0.4)
    return MixtureField(mixture, OUProcess(beta=2.0, horizon=1.0))


def _points(field, t, n=6):
    marginal = field.ou.marginal(field.mixture, t)
    return torch.as_tensor(marginal.sample(n, seed=1), dtype=torch.float64)


def test_process_and_describe(field):
    assert isinstance(field.process, OUVP) and field.process.t_min == 0.0 and field.process.beta == 2.0
    assert field.shape == (4,) and field.dtype == torch.float64
    assert field.describe()["source"] == "mixture"
    probe(field)


@pytest.mark.parametrize("t", TIMES)
def test_velocity_matches_numpy(field, t):
    x = _points(field, t)
    expected = pf_velocity(x.numpy(), field.mixture, field.ou, t)
    np.testing.assert_allclose(field.velocity(x, t).numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("t", [0.0, 0.05, 0.3])
def test_autodiff_jacobian_matches_closed_form(field, t):
    x = _points(field, t, 3)
    expected = velocity_jacobian(x.numpy(), field.mixture, field.ou, t)
    for i in range(x.shape[0]):
        jac = torch.func.jacrev(lambda y: field.velocity(y[None], t)[0])(x[i])
        np.testing.assert_allclose(jac.numpy(), expected[i], rtol=1e-10, atol=1e-12)
    direction = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    _, jvp = torch.func.jvp(lambda y: field.velocity(y, t), (x,), (direction,))
    np.testing.assert_allclose(jvp.numpy(), np.einsum("nij,nj->ni", expected, direction.numpy()), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("t", TIMES)
def test_jacobian_norm_below_lipschitz_bound(field, t):
    x = _points(field, t, 20)
    norms = field.exact_jacobian_norm(x, t)
    assert norms.shape == (20,)
    assert float(norms.max()) <= field.lipschitz_bound(t) * (1 + 1e-12)
    jac = velocity_jacobian(x.numpy(), field.mixture, field.ou, t)
    np.testing.assert_allclose(norms.numpy(), np.linalg.norm(jac, 2, axis=(1, 2)), rtol=1e-12)


def test_one_component_jacobian_is_a_multiple_of_identity():
    beta, sigma0 = 3.0, 0.5
    single = MixtureField(IsotropicMixture(np.ones(1), np.array([[1.0, -2.0, 0.5]]), sigma0), OUProcess(beta, 1.0))
    x = torch.randn(3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for t in (0.0, 0.2, 0.9):
        s2 = single.ou.variance(t, sigma0)
        jac = torch.func.jacrev(lambda y: single.velocity(y[None], t)[0])(x)
        np.testing.assert_allclose(jac.numpy(), -beta * (1 - 1 / s2) * np.eye(3), rtol=1e-12, atol=1e-14)


def test_bad_input(field):
    with pytest.raises(DistillPlanError) as err:
        field.velocity(torch.zeros(2, 3, dtype=torch.float64), 0.1)
    assert err.value.argument == "x"
    with pytest.raises(DistillPlanError) as err:
        field.velocity(torch.zeros(2, 4, dtype=torch.float64), 1.5)
    assert err.value.argument == "t"
    with pytest.raises(DistillPlanError) as err:
        MixtureField(field.mixture, OUVP(2.0, 1.0))
    assert err.value.argument == "process"
    with pytest.raises(DistillPlanError) as err:
        MixtureField("mixture", field.ou)
    assert err.value.argument == "mixture"


def test_epsilon_agrees_with_the_velocity():
    rng = np.random.default_rng(4)
    field = MixtureField(IsotropicMixture.equal_weights(rng.normal(size=(3, 4)), 0.3), OUProcess(5.0, 1.0))
    x = torch.tensor(rng.normal(size=(5, 4)))
    for t in (0.05, 0.4, 1.0):
        a, b = field.process.pf_coefficients(t)
        torch.testing.assert_close(field.epsilon(x, t), (field.velocity(x, t) - a * x) / b, rtol=1e-10, atol=1e-12)
