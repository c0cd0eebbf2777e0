"""Residual Euler composition (Definition 10) and the coordinate-token transformer."""

import math

import numpy as np
import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.mixture import IsotropicMixture, OUProcess
from distillplan.flowmap import MixtureField, rk4_flow_map
from distillplan.nn.metrics import parameter_count
from distillplan.nn.residual import CoordinateTransformer, ResidualComposition, euler_node_times, residual_euler


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def field64() -> MixtureField:
    """d = 3, K = 4, unequal weights, σ0 = 0.6, β = 5, T = 1 (float64)."""
    rng = np.random.default_rng(7)
    mixture = IsotropicMixture(rng.uniform(0.2, 1.0, 4), rng.uniform(-2.0, 2.0, (4, 3)), 0.6)
    return MixtureField(mixture, OUProcess(beta=5.0, horizon=1.0), torch.float64)


def _exact_scores(field, blocks):
    return [lambda x, u=u: field.score(x, u) for u in euler_node_times(field.horizon, blocks)]


def test_node_times():
    assert euler_node_times(1.0, 4) == [1.0, 0.75, 0.5, 0.25]
    assert euler_node_times(2.0, 1) == [2.0]
    with pytest.raises(DistillPlanError):
        euler_node_times(1.0, 0)


@pytest.mark.parametrize("blocks", [1, 3, 8])
def test_exact_scores_give_explicit_euler_on_the_pf_ode(field64, blocks):
    x0 = field64.sample(1.0, 64, torch.Generator().manual_seed(0))
    out = residual_euler(x0, _exact_scores(field64, blocks), field64.beta, field64.horizon)
    # explicit Euler, written independently: x_{k+1} = x_k + h v(x_k, u_k), h = -T/L, u_k = T - kT/L
    h = -field64.horizon / blocks
    x = x0.clone()
    for k in range(blocks):
        x = x + h * field64.velocity(x, field64.horizon + k * h)
    torch.testing.assert_close(out, x, rtol=1e-12, atol=1e-12)


def test_euler_converges_to_the_rk4_teacher_at_first_order(field64):
    x0 = field64.sample(1.0, 256, torch.Generator().manual_seed(1))
    reference = rk4_flow_map(field64, x0, 1.0, 0.0, 2000)
    errors = []
    for blocks in (16, 32, 64, 128, 256):
        out = residual_euler(x0, _exact_scores(field64, blocks), field64.beta, field64.horizon)
        errors.append(float((out - reference).square().sum() / reference.square().sum()) ** 0.5)
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    ratios = [a / b for a, b in zip(errors, errors[1:])]
    assert 1.6 < ratios[-1] < 2.4, ratios  # doubling L halves the error: first order
    assert errors[-1] < 0.02 and errors[-1] < errors[0] / 8


def test_module_is_the_euler_form_with_learned_scores(field64):
    net = ResidualComposition(3, 4, beta=5.0, horizon=1.0, width=8, depth=2,
                              generator=torch.Generator().manual_seed(0)).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    assert net.alpha == -0.25 and net.blocks == 4
    torch.testing.assert_close(net(x), residual_euler(x, list(net.scores), 5.0, 1.0))
    with torch.no_grad():  # s_k ≡ 0: each block multiplies by 1 - αβ = 1 + βT/L
        for p in net.parameters():
            p.zero_()
    torch.testing.assert_close(net(x), x * (1 + 5.0 / 4) ** 4)


def test_residual_blocks_are_relu_mlps_seeded_by_the_generator():
    a = ResidualComposition(6, 3, 5.0, 1.0, width=16, depth=2, generator=torch.Generator().manual_seed(3))
    b = ResidualComposition(6, 3, 5.0, 1.0, width=16, depth=2, generator=torch.Generator().manual_seed(3))
    c = ResidualComposition(6, 3, 5.0, 1.0, width=16, depth=2, generator=torch.Generator().manual_seed(4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    assert all(s.dims == [6, 16, 16, 6] and s.activation == "relu" for s in a.scores)
    assert not torch.equal(a.scores[0].layers[0].weight, a.scores[1].layers[0].weight)  # blocks differ
    assert parameter_count(a) == 3 * (6 * 16 + 16 + 16 * 16 + 16 + 16 * 6 + 6)


def test_transformer_shapes_parameters_and_init():
    d, width, blocks = 10, 16, 2
    net = CoordinateTransformer(d, blocks, d_model=width, heads=4, ff_mult=4, generator=torch.Generator().manual_seed(0))
    assert net(torch.randn(7, d)).shape == (7, d)
    assert net(torch.randn(2, 3, d)).shape == (2, 3, d)
    per_block = 4 * width + (3 * width * width + 3 * width) + (width * width + width) + (8 * width * width + 5 * width)
    assert parameter_count(net) == 2 * width + d * width + blocks * per_block + width + 1
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2 + 4 * blocks
    for layer in linears:
        bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
        assert layer.weight.abs().max() <= bound and torch.count_nonzero(layer.bias) == 0
    assert 0.01 < float(net.pos.detach().std()) < 0.03


def test_transformer_is_permutation_equivariant_without_positions():
    net = CoordinateTransformer(8, 2, d_model=16, heads=2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        net.pos.zero_()
    x = torch.randn(4, 8)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(net(x[:, perm]), net(x)[:, perm], rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        net.pos.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(net(x[:, perm]), net(x)[:, perm], atol=1e-4)


def test_transformer_is_seeded_and_trainable():
    a = CoordinateTransformer(5, 1, d_model=8, heads=2, generator=torch.Generator().manual_seed(9))
    b = CoordinateTransformer(5, 1, d_model=8, heads=2, generator=torch.Generator().manual_seed(9))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    x = torch.randn(16, 5)
    a(x).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in a.parameters())


def test_bad_arguments():
    with pytest.raises(DistillPlanError, match="heads"):
        CoordinateTransformer(4, 1, d_model=10, heads=4)
    with pytest.raises(DistillPlanError, match="blocks"):
        ResidualComposition(4, 0, 5.0, 1.0)
    with pytest.raises(DistillPlanError, match="beta"):
        ResidualComposition(4, 2, -1.0, 1.0)
    with pytest.raises(DistillPlanError, match="scores"):
        residual_euler(torch.zeros(1, 2), [], 5.0, 1.0)
