"""Samplers on Gaussian data, where the probability-flow solution is closed form."""

import numpy as np
import pytest
import torch

from distillplan import DistillPlanError
from distillplan.models import EDM, CosineVP, DiscreteVP, FunctionField, OUVP, RectifiedFlow
from distillplan.sampling.samplers import SAMPLERS, evaluations, sample

C2 = 0.25  # data N(0, C2 I)
PROCESSES = [OUVP(5.0, 1.0), CosineVP(), DiscreteVP.from_betas("linear"), EDM(), RectifiedFlow(0.0, 0.999)]


def _gaussian_field(process):
    def v(x, t):
        a, b = process.pf_coefficients(t)
        var = process.alpha(t) ** 2 * C2 + process.sigma(t) ** 2
        return a * x + b * process.sigma(t) * x / var

    return FunctionField(v, process, (3,))


def _exact(process, x, t_from, t_to):
    var = lambda t: process.alpha(t) ** 2 * C2 + process.sigma(t) ** 2  # noqa: E731
    return x * np.sqrt(var(t_to) / var(t_from))


def _grid(process, n):
    lam = np.linspace(process.log_snr(process.horizon), min(process.log_snr(process.t_min), 12.0), n + 1)
    t = process.time_of_log_snr(lam)
    t[0], t[-1] = process.horizon, process.t_min
    return t


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
@pytest.mark.parametrize("method, order", [("euler", 1), ("ddim", 1), ("heun", 2), ("dpmpp-2m", 2)])
def test_convergence_order_on_gaussian_data(process, method, order):
    field = _gaussian_field(process)
    x = torch.tensor([[1.0, -0.5, 2.0]], dtype=torch.float64)
    errors = []
    for n in (16, 32, 64):
        t = _grid(process, n)
        out = sample(field, x, t, method)
        errors.append(float(torch.linalg.norm(out - _exact(process, x, t[0], t[-1]))))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < errors[0]
    assert rates[-1] > order - 0.3, (errors, rates)


def test_euler_and_ddim_are_one_map():
    process = DiscreteVP.from_betas("linear")
    field = _gaussian_field(process)
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = _grid(process, 7)
    torch.testing.assert_close(sample(field, x, t, "euler"), sample(field, x, t, "ddim"), rtol=1e-12, atol=1e-12)


def test_evaluation_counts():
    p = OUVP(5.0, 1.0)
    assert evaluations("euler", p, [1.0, 0.5, 0.0]) == 2
    assert evaluations("heun", p, [1.0, 0.5, 0.0]) == 3
    assert evaluations("heun", p, [1.0, 0.5, 0.1]) == 4


@pytest.mark.parametrize("times, method, argument", [
    ([1.0, 0.5, 0.0], "rk45", "sampler"), ([1.0], "euler", "grid"), ([0.5, 1.0], "euler", "grid"),
    ([2.0, 0.0], "euler", "grid"), ([1.0, np.nan], "euler", "grid"),
])
def test_bad_input(times, method, argument):
    field = _gaussian_field(OUVP(5.0, 1.0))
    with pytest.raises(DistillPlanError) as err:
        sample(field, torch.zeros(1, 3, dtype=torch.float64), times, method)
    assert err.value.argument == argument


def test_every_sampler_is_listed():
    assert set(SAMPLERS) == {"euler", "ddim", "heun", "dpmpp-2m"}
