"""Parameterisations: round trips through the velocity, and exactness on Gaussian data through NetworkField."""

import numpy as np
import pytest
import torch

from distillplan import DistillPlanError
from distillplan.models import (EDM, OUVP, PARAMETERISATIONS, CosineVP, DiscreteVP, NetworkField, RectifiedFlow,
                                from_velocity, to_velocity)

PROCESSES = [DiscreteVP.from_betas("linear"), DiscreteVP.from_betas("squaredcos_cap_v2"), CosineVP(),
             OUVP(5.0, 1.0, 1e-4), EDM(), RectifiedFlow(1e-4, 0.999)]

pytestmark = pytest.mark.usefixtures("one_thread")


def _kinds(process):
    return [k for k in PARAMETERISATIONS if k != "v" or process.variance_preserving]


def _times(process, n=4):
    return np.linspace(process.t_min, process.horizon, n + 2)[1:-1]


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name + getattr(p, "label", "")[:6])
def test_round_trip_every_kind(process):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    v = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    for t in _times(process):
        for kind in _kinds(process):
            out = from_velocity(v, x, float(t), process, kind)
            torch.testing.assert_close(to_velocity(out, x, float(t), process, kind), v, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("process", [EDM(), RectifiedFlow()], ids=lambda p: p.name)
def test_v_prediction_needs_variance_preserving(process):
    x = torch.zeros(2, 3, dtype=torch.float64)
    for call in (lambda: to_velocity(x, x, 0.5, process, "v"), lambda: from_velocity(x, x, 0.5, process, "v"),
                 lambda: NetworkField(lambda x, t: x, process, "v", (3,))):
        with pytest.raises(DistillPlanError) as err:
            call()
        assert err.value.argument == "parameterisation"


def test_unknown_kind_and_singular_ends():
    x = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(DistillPlanError) as err:
        to_velocity(x, x, 0.5, EDM(), "noise")
    assert err.value.argument == "parameterisation"
    with pytest.raises(DistillPlanError) as err:  # α = 0 at the noise end of rectified flow
        to_velocity(x, x, 1.0, RectifiedFlow(), "epsilon")
    assert err.value.argument == "t"
    with pytest.raises(DistillPlanError) as err:  # σ = 0 at its data end
        to_velocity(x, x, 0.0, RectifiedFlow(), "x0")
    assert err.value.argument == "t"
    torch.testing.assert_close(to_velocity(x + 1, x, 1.0, RectifiedFlow(), "velocity"), x + 1)


def _gaussian_outputs(x, t, process, c2):
    """Exact outputs of each kind for data N(0, c² I): ε̂ = σ x/(α² c² + σ²)."""
    alpha, sigma = process.alpha(t), process.sigma(t)
    var = alpha**2 * c2 + sigma**2
    eps = sigma * x / var
    x0 = (x - sigma * eps) / alpha
    out = {"epsilon": eps, "x0": x0, "score": -x / var,
           "velocity": process.dalpha(t) * x0 + process.dsigma(t) * eps}  # E[α' x0 + σ' ε | x]
    if process.variance_preserving:
        out["v"] = alpha * eps - sigma * x0
    return out


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name + getattr(p, "label", "")[:6])
def test_network_field_is_exact_for_gaussian_data(process):
    c2 = 0.3
    x = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for t in _times(process, 3):
        a, b = process.pf_coefficients(t)
        alpha, sigma = process.alpha(t), process.sigma(t)
        expected = a * x + b * sigma * x / (alpha**2 * c2 + sigma**2)
        outputs = _gaussian_outputs(x, t, process, c2)
        for kind, out in outputs.items():
            seen = []

            def net(xin, t_net, out=out):
                seen.append(t_net)
                return out.clone()

            field = NetworkField(net, process, kind, (2, 3), dtype=torch.float64)
            torch.testing.assert_close(field.velocity(x, float(t)), expected, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(field.epsilon(x, float(t)), outputs["epsilon"], rtol=1e-9, atol=1e-12)
            assert seen[0].shape == (4,) and float(seen[0][0]) == pytest.approx(t, rel=1e-15)


def test_network_time_and_dtype():
    process = RectifiedFlow()
    seen = []

    def net(x, t_net):
        seen.append(t_net)
        return torch.ones_like(x)

    field = NetworkField(net, process, "velocity", (3,), network_time=lambda t: 1000 * t)
    assert field.dtype == torch.float32 and field.device == torch.device("cpu")
    v = field.velocity(torch.zeros(2, 3, dtype=torch.float64), 0.25)
    assert v.dtype == torch.float64 and seen[0].tolist() == [250.0, 250.0]
    desc = field.describe()
    assert desc["parameterisation"] == "velocity" and desc["process"]["process"] == "rectified-flow"
    assert "content_hash" not in desc
    with pytest.raises(DistillPlanError) as err:
        field.velocity(torch.zeros(2, 3), 1.5)
    assert err.value.argument == "t"


@pytest.mark.parametrize("kwargs, argument", [
    ({"net": 3}, "net"), ({"shape": (0, 2)}, "shape"), ({"shape": 3}, "shape"), ({"process": "ddpm"}, "process"),
    ({"parameterisation": "eps"}, "parameterisation"), ({"dtype": torch.int64}, "dtype"),
    ({"network_time": 2.0}, "network_time"), ({"device": "tpu"}, "device"),
])
def test_network_field_bad_input(kwargs, argument):
    args = {"net": lambda x, t: x, "process": "edm", "parameterisation": "epsilon", "shape": (3,)} | kwargs
    with pytest.raises(DistillPlanError) as err:
        NetworkField(**args)
    assert err.value.argument == argument
