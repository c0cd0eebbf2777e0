import math

import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.nn import MLP, StackedMLP, activation_functions, clip_weights_, requ

pytestmark = pytest.mark.usefixtures("one_thread")


def test_requ_values_and_gradient():
    x = torch.tensor([-2.0, -0.0, 0.5, 3.0], requires_grad=True)
    y = requ(x)
    assert y.tolist() == [0.0, 0.0, 0.25, 9.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 6.0]  # d/dx max(0,x)² = 2 max(0,x)


def test_activation_patterns():
    assert activation_functions("relu", 3) == [torch.relu] * 3
    assert activation_functions("requ", 2) == [requ, requ]
    assert activation_functions("alternating", 4) == [torch.relu, requ, torch.relu, requ]
    with pytest.raises(DistillPlanError):
        activation_functions("gelu", 2)


def test_mlp_shape_init_and_alternating_forward():
    gen = torch.Generator().manual_seed(0)
    net = MLP(5, 16, 4, "alternating", generator=gen)
    assert net.dims == [5, 16, 16, 16, 16, 5]
    for layer in net.layers:
        bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.8 * bound
        assert torch.count_nonzero(layer.bias) == 0
    x = torch.randn(7, 5)
    h = x
    for i, layer in enumerate(net.layers[:-1]):
        z = layer(h)
        h = torch.relu(z) if i % 2 == 0 else torch.relu(z) ** 2
    torch.testing.assert_close(net(x), net.layers[-1](h))


def test_same_generator_seed_same_student():
    a = MLP(3, 8, 2, generator=torch.Generator().manual_seed(5))
    b = MLP(3, 8, 2, generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_stacked_equals_individual_students():
    mlps = [MLP(4, 12, 3, "alternating", generator=torch.Generator().manual_seed(s)) for s in range(3)]
    stacked = StackedMLP.from_mlps(mlps)
    x = torch.randn(3, 10, 4)
    out = stacked(x)
    for k, mlp in enumerate(mlps):
        torch.testing.assert_close(out[k], mlp(x[k]))
    for k, back in enumerate(stacked.unstack()):
        assert all(torch.equal(p, q) for p, q in zip(back.parameters(), mlps[k].parameters()))
    fresh = StackedMLP(3, 4, 12, 3, "alternating", generators=[torch.Generator().manual_seed(s) for s in range(3)])
    assert all(torch.equal(p, q) for p, q in zip(fresh.parameters(), stacked.parameters()))
    with pytest.raises(DistillPlanError):
        stacked(torch.randn(2, 10, 4))


@pytest.mark.parametrize("stacked", [False, True])
def test_clip_weights_bounds_every_weight_not_biases(stacked):
    net = StackedMLP(2, 3, 8, 2) if stacked else MLP(3, 8, 2)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 3.0)
    biases_before = [p.clone() for name, p in net.named_parameters() if "bias" in name]
    clip_weights_(net, 0.05)
    for weight in net.weight_tensors():
        assert weight.abs().max() <= 0.05
        assert (weight.abs() == 0.05).any()
    assert all(torch.equal(a, b) for a, b in zip(biases_before, [p for n, p in net.named_parameters() if "bias" in n]))
    with pytest.raises(DistillPlanError):
        clip_weights_(net, 0.0)
