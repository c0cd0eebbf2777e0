"""diffusers' schedulers driven with an exact ε̂ on Gaussian data, against the native samplers and the closed form."""

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from distillplan import DistillPlanError  # noqa: E402
from distillplan.models import DiscreteVP, FunctionField, OUVP  # noqa: E402
from distillplan.sampling.diffusers_samplers import SAMPLERS, effective_times, run_sampler  # noqa: E402
from distillplan.sampling.samplers import evaluations, sample  # noqa: E402

S2 = 0.25  # data N(0, S2 I)
VP = DiscreteVP.from_betas("linear", 1e-4, 0.02, 1000)
STEPS = np.array([999.0, 700, 400, 200, 80, 20, 0])
# diffusers computes σ̃ in float32 and Euler/DPM step a float32 state: agreement is ~1e-6, not float64
RTOL = 1e-5


def _field(process):
    """Exact ε̂(x, t) = σ x / (α² S2 + σ²) for data N(0, S2 I), given as a velocity (1)."""
    def v(x, t):
        a, b = process.pf_coefficients(t)
        alpha, sigma = process.alpha(t), process.sigma(t)
        return a * x + b * sigma * x / (alpha**2 * S2 + sigma**2)

    return FunctionField(v, process, (16,))


def _noise(n=4):
    return torch.randn(n, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def _exact(process, x, t_from, t_to):
    """PF-ODE flow for Gaussian data: x̃ = x/α scales by √((S2 + σ̃_to²)/(S2 + σ̃_from²))."""
    s0, s1 = process.kdiffusion_sigma(t_from), process.kdiffusion_sigma(t_to)
    return x / process.alpha(t_from) * np.sqrt((S2 + s1**2) / (S2 + s0**2)) * process.alpha(t_to)


def _rel(a, b):
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def _lambda_grid(process, n):
    t = process.time_of_log_snr(np.linspace(process.log_snr(process.horizon), process.log_snr(process.t_min), n + 1))
    t[0], t[-1] = process.horizon, process.t_min
    return t


def test_euler_with_custom_sigmas_matches_native_euler():
    field, x = _field(VP), _noise()
    t = _lambda_grid(VP, 12)
    t[1:-1] += 0.37  # fractional steps pass through sigmas= unrounded
    run = effective_times(field, t, "euler")
    np.testing.assert_allclose(run, t, rtol=0, atol=1e-3)  # float32 σ̃ only; the last σ̃ is kept, not set to 0
    out, nfe = run_sampler(field, x, t, "euler")
    assert nfe == 12
    assert _rel(out, sample(field, x, run, "euler")) < RTOL
    assert _rel(out, sample(field, x, t, "euler")) < RTOL


@pytest.mark.parametrize("sampler", ["heun", "dpmpp-2m"])
def test_heun_and_dpm_match_native_on_training_steps(sampler):
    field, x = _field(VP), _noise()
    run = effective_times(field, STEPS, sampler)
    # diffusers' float32 ᾱ table moves each step by < 1e-3 training steps
    np.testing.assert_allclose(run, STEPS, rtol=0, atol=1e-3)
    out, nfe = run_sampler(field, x, STEPS, sampler)
    assert nfe == evaluations(sampler, VP, run) == (12 if sampler == "heun" else 6)
    assert _rel(out, sample(field, x, run, sampler)) < RTOL
    assert _rel(out, sample(field, x, STEPS, sampler)) < RTOL


def test_heun_fractional_grid_is_kept():
    field = _field(VP)
    t = np.array([999.0, 512.3, 100.7, 3.2, 0.0])
    np.testing.assert_allclose(effective_times(field, t, "heun"), t, rtol=0, atol=1e-3)


def test_dpm_rounds_and_dedupes_to_training_steps():
    field, x = _field(VP), _noise()
    t = np.array([999.0, 600.0, 300.4, 300.2, 100.0, 20.7, 0.0])
    run = effective_times(field, t, "dpmpp-2m")
    np.testing.assert_allclose(run, [999, 600, 300, 100, 21, 0], rtol=0, atol=1e-3)
    out, nfe = run_sampler(field, x, t, "dpmpp-2m")
    assert nfe == 5
    assert _rel(out, sample(field, x, run, "dpmpp-2m")) < RTOL


@pytest.mark.parametrize("sampler, order", [("euler", 1), ("heun", 2), ("dpmpp-2m", 2), ("ddim", 1)])
def test_convergence_to_the_exact_flow(sampler, order):
    field, x = _field(VP), _noise()
    errors = []
    for n in (16, 32, 64):
        t = _lambda_grid(VP, n)
        out, nfe = run_sampler(field, x, t, sampler)
        run = effective_times(field, t, sampler)
        assert nfe == evaluations(sampler, VP, run)
        errors.append(_rel(out, _exact(VP, x, run[0], run[-1])))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < (5e-2 if order == 1 else 5e-3), errors
    assert rates[-1] > order - 0.3, (errors, rates)


@pytest.mark.parametrize("sampler, tol", [("euler", 0.15), ("ddim", 0.15), ("heun", 5e-2), ("dpmpp-2m", 5e-2)])
def test_ou_field_falls_back_to_native(sampler, tol):
    process = OUVP(5.0, 1.0)
    field, x = _field(process), _noise()
    t = _lambda_grid(process, 24)
    out, nfe = run_sampler(field, x, t, sampler)
    np.testing.assert_array_equal(effective_times(field, t, sampler), t)
    assert nfe == evaluations(sampler, process, t)
    torch.testing.assert_close(out, sample(field, x, t, sampler), rtol=0, atol=0)
    assert _rel(out, _exact(process, x, t[0], t[-1])) < tol


@pytest.mark.parametrize("times, sampler, argument", [
    (STEPS, "rk45", "sampler"), (STEPS, "dpm++", "sampler"),
    ([0.0, 500.0], "euler", "grid"), ([999.0], "heun", "grid"), ([999.0, 999.0, 0.0], "heun", "grid"),
    ([1200.0, 0.0], "euler", "grid"), ([999.0, np.nan], "euler", "grid"), ([0.4, 0.2], "dpmpp-2m", "grid"),
])
def test_bad_input(times, sampler, argument):
    field = _field(VP)
    for call in (lambda: run_sampler(field, _noise(1), times, sampler), lambda: effective_times(field, times, sampler)):
        with pytest.raises(DistillPlanError) as err:
            call()
        assert err.value.argument == argument


def test_samplers_listed():
    assert SAMPLERS == ("euler", "heun", "dpmpp-2m", "ddim")
