"""Noise processes: derivatives, inverses and the probability-flow coefficients against closed forms."""

import numpy as np
import pytest

from distillplan import DistillPlanError
from distillplan.export import training_alphas_bar
from distillplan.models import EDM, CosineVP, DiscreteVP, OUVP, PROCESSES, RectifiedFlow, make_process

ALL = [DiscreteVP.from_betas("linear"), DiscreteVP.from_betas("scaled_linear", 0.00085, 0.012),
       DiscreteVP.from_betas("squaredcos_cap_v2"), CosineVP(), OUVP(5.0, 1.0, 1e-4), EDM(), RectifiedFlow(1e-4, 0.999)]


def _interior(p, n=50):
    return np.linspace(p.t_min, p.horizon, n + 2)[1:-1]


@pytest.mark.parametrize("process", ALL, ids=lambda p: p.name)
def test_derivatives_match_central_differences(process):
    t = _interior(process)
    h = 1e-6 * (process.horizon - process.t_min)
    for f, df in ((process.alpha, process.dalpha), (process.sigma, process.dsigma)):
        fd = (f(t + h) - f(t - h)) / (2 * h)
        np.testing.assert_allclose(df(t), fd, rtol=2e-5, atol=1e-8)


@pytest.mark.parametrize("process", ALL, ids=lambda p: p.name)
def test_log_snr_is_decreasing_and_inverted(process):
    t = _interior(process)
    lam = process.log_snr(t)
    assert np.all(np.diff(lam) < 0)
    np.testing.assert_allclose(process.time_of_log_snr(lam), t, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("process", ALL, ids=lambda p: p.name)
def test_pf_velocity_is_exact_for_gaussian_data(process):
    """Data N(0, c²): p_t = N(0, α²c² + σ²), ε̂ = σ x/(α²c² + σ²); then (1) must transport the variance:
    d/dt Var = 2 a Var + 2 b σ = d/dt (α² c² + σ²)."""
    c2 = 0.3
    t = _interior(process)
    a, b = process.pf_coefficients(t)
    var = process.alpha(t) ** 2 * c2 + process.sigma(t) ** 2
    lhs = 2 * a * var + 2 * b * process.sigma(t)  # d/dt E[x²] with v = a x + b σ x / var
    rhs = 2 * process.alpha(t) * process.dalpha(t) * c2 + 2 * process.sigma(t) * process.dsigma(t)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


def test_discrete_vp_interpolates_the_table():
    ab = training_alphas_bar(1000)
    p = DiscreteVP.from_betas("linear")
    np.testing.assert_allclose(p.alpha(np.arange(1000.0)) ** 2, ab, rtol=1e-12)
    assert p.horizon == 999 and p.t_min == 0 and p.variance_preserving
    np.testing.assert_allclose(p.alpha(3.0) ** 2 + p.sigma(3.0) ** 2, 1.0, rtol=1e-14)


def test_ends_and_prior():
    c = CosineVP()
    assert c.kdiffusion_sigma(c.t_min) == pytest.approx(0.002, rel=1e-9)
    assert EDM().prior_std() == pytest.approx(np.hypot(1, 80))
    assert OUVP(5.0, 1.0).prior_std() == pytest.approx(1.0)
    assert RectifiedFlow().prior_std() == 1.0
    np.testing.assert_allclose(OUVP(2.0, 1.0).vp_alpha(0.3), np.exp(-0.6))
    np.testing.assert_allclose(EDM().vp_alpha(1.0), 1 / np.sqrt(2))


@pytest.mark.parametrize("process", ALL, ids=lambda p: p.name)
def test_config_round_trip(process):
    again = make_process(process.config())
    t = _interior(process, 7)
    np.testing.assert_allclose(again.alpha(t), process.alpha(t), rtol=1e-13)
    np.testing.assert_allclose(again.sigma(t), process.sigma(t), rtol=1e-13)
    assert set(PROCESSES) >= {process.config()["process"]}


@pytest.mark.parametrize("bad, argument", [
    ({"process": "ddpm"}, "process"), ("edm", "process"), ({"process": "edm", "t_min": 5, "horizon": 1}, "horizon"),
    ({"process": "ou", "beta": -1}, "beta"), ({"process": "edm", "sigma": 1}, "process"),
    ({"process": "discrete-vp"}, "process"), ({"process": "discrete-vp", "alphas_bar": "x"}, "alphas_bar"),
])
def test_bad_configs_name_the_argument(bad, argument):
    with pytest.raises(DistillPlanError) as err:
        make_process(bad)
    assert err.value.argument == argument


def test_bad_tables():
    with pytest.raises(DistillPlanError, match="beta_schedule"):
        DiscreteVP.from_betas("cosine")
    with pytest.raises(DistillPlanError, match="alphas_bar"):
        DiscreteVP(np.array([0.5, 0.9]))
