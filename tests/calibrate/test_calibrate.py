"""``calibrate`` end to end: closed forms (one isotropic component, rectified Gaussian), the exact mixture
under its bound, determinism, progress, cost and argument checks."""

import numpy as np
import pytest
import torch

from distillplan import DistillPlanError
from distillplan.calibrate import Calibration, calibrate, calibration_cost
from distillplan.mixture import IsotropicMixture, OUProcess, cumulative_stability, lipschitz_bound, stability_grid

from .helpers import (edm_gaussian_field, edm_gaussian_stability, mixture_field, rectified_gaussian_field,
                      rectified_gaussian_stability, single_component)

BETA = 5.0
FAST = dict(samples=4, points=64, iters=2, bootstrap=20)


@pytest.mark.parametrize("sigma0", [0.1, 0.5, 2.0])
def test_single_component_reproduces_the_closed_form_profile_and_grid(sigma0):
    """J = −β(1 − 1/s_t²) I on every trajectory: ρ = L(t) and the grid is paper 2's stability grid."""
    mixture = single_component(sigma0)
    result = calibrate(mixture_field(mixture, BETA), 8, **FAST)
    process = OUProcess(BETA, 1.0)
    bound = lipschitz_bound(result.times, mixture, process)
    np.testing.assert_allclose(result.rho, np.broadcast_to(bound, result.rho.shape), rtol=1e-9)
    for summary in (result.summary.mean, result.summary.q95, result.summary.max):
        np.testing.assert_allclose(summary, bound, rtol=1e-9)
    exact = cumulative_stability(result.times, mixture, process)
    assert np.max(np.abs(result.A_hat - exact)) <= 1e-5 * exact[0]
    assert result.A_total == pytest.approx(exact[0], rel=1e-5)
    np.testing.assert_allclose(result.grid.times, stability_grid(mixture, process, 8).times, rtol=1e-4, atol=0)
    assert result.grid.t_min == 0.0 and result.grid.to_time_grid().segments == 8
    # identical trajectories: every bootstrap resample is the estimate itself
    np.testing.assert_allclose(result.grid_band, np.broadcast_to(result.grid.times, (2, 9)), rtol=1e-12)


def test_a_zero_profile_is_refused_clearly():
    """σ0 = 1, one component: s_t ≡ 1, so ∂v/∂x = 0 everywhere and A(T) = 0."""
    with pytest.raises(DistillPlanError) as err:
        calibrate(mixture_field(single_component(1.0), BETA), 8, **FAST)
    assert err.value.argument == "field" and "zero" in err.value.message


def test_rectified_flow_with_both_log_snr_ends_infinite():
    """Data N(0, c²) under rectified flow: ρ = |V'|/(2V), A(t) = ½|ln V(t)/V(0)| (kink at the minimum of V)."""
    c = 0.5
    result = calibrate(rectified_gaussian_field(c), 6, samples=2, points=256, iters=2, bootstrap=0)
    t = result.times
    assert t[0] == 1.0 and t[-1] == 0.0
    var = (1 - t) ** 2 * c * c + t * t
    np.testing.assert_allclose(result.rho[0], np.abs(t - (1 - t) * c * c) / var, rtol=1e-12, atol=1e-15)
    exact = rectified_gaussian_stability(t, c)
    assert np.max(np.abs(result.A_hat - exact)) <= 1e-4 * exact[0]  # measured 2e-5 (4e-4 at M = 64: the kink)
    np.testing.assert_allclose(rectified_gaussian_stability(result.grid.times, c), exact[0] * np.arange(6, -1, -1) / 6,
                               rtol=1e-4, atol=1e-12)
    assert result.A_band is None and result.grid_band is None


def test_edm_grid_ends_at_its_t_min():
    """EDM with data N(0, c²): ρ = t/(c² + t²), A(t) = ½ ln((c² + t²)/(c² + t_min²)); the grid stops at t_min."""
    c = 0.5
    field = edm_gaussian_field(c)
    t_min, horizon = field.process.t_min, field.process.horizon
    result = calibrate(field, 10, samples=2, points=64, iters=2, bootstrap=0)
    t = result.times
    assert t[0] == horizon and t[-1] == t_min
    np.testing.assert_allclose(result.rho[1], t / (c * c + t * t), rtol=1e-12)
    exact = edm_gaussian_stability(t, c, t_min)
    assert np.max(np.abs(result.A_hat - exact)) <= 1e-5 * exact[0]
    shares = exact[0] * np.arange(10, -1, -1) / 10
    np.testing.assert_allclose(edm_gaussian_stability(result.grid.times, c, t_min), shares, rtol=1e-5, atol=1e-9)
    assert result.grid.t_min == t_min and result.grid.horizon == horizon
    with pytest.raises(DistillPlanError):
        result.grid.to_time_grid()  # a TimeGrid must end at 0


@pytest.mark.parametrize("components, dim, sigma0", [(6, 4, 1.0), (8, 2, 0.1)])
def test_exact_mixture_profile_stays_below_the_bound(components, dim, sigma0):
    rng = np.random.default_rng(components * dim)
    mixture = IsotropicMixture.equal_weights(rng.uniform(-3, 3, (components, dim)), sigma0)
    result = calibrate(mixture_field(mixture, BETA), 8, samples=16, points=32, iters=8, bootstrap=50)
    bound = lipschitz_bound(result.times, mixture, OUProcess(BETA, 1.0))
    assert np.all(result.summary.max <= bound * (1 + 1e-9))
    assert np.all(result.summary.mean <= result.summary.q95 + 1e-12)
    assert np.all(result.summary.q95 <= result.summary.max)
    assert result.A_total <= cumulative_stability(1.0, mixture, OUProcess(BETA, 1.0)) * (1 + 1e-4)
    assert np.all(result.iterations >= 1) and np.all(result.iterations <= 8)
    assert 0 <= result.unconverged_total <= 16 * 32
    assert np.all(result.A_band[0] <= result.A_hat) and np.all(result.A_hat <= result.A_band[1])
    assert np.all(result.grid_band[0] <= result.grid.times) and np.all(result.grid.times <= result.grid_band[1])
    np.testing.assert_allclose(result.segment_shares(), result.A_total / 8, rtol=1e-9)
    assert result.grid.kind == "calibrated-jacobian" and result.process == {"process": "ou", "beta": BETA,
                                                                            "t_min": 0.0, "horizon": 1.0}


@pytest.mark.parametrize("profile", ["jacobian", "acceleration"])
def test_a_float32_field(profile):
    """One component in float32 (noise, states and products in float32): the Jacobian profile is the bound
    to float32 precision, and both profiles give the float64 grid."""
    mixture = single_component(0.5)
    runs = [calibrate(mixture_field(mixture, BETA, dtype=dtype), 6, samples=4, points=32, iters=2, bootstrap=0,
                      profile=profile) for dtype in (torch.float64, torch.float32)]
    if profile == "jacobian":
        bound = lipschitz_bound(runs[1].times, mixture, OUProcess(BETA, 1.0))
        # the field's own float32 rounding: β(1 − 1/s²) cancels to about β·ε₃₂ absolute near the horizon
        np.testing.assert_allclose(runs[1].rho, np.broadcast_to(bound, runs[1].rho.shape), rtol=1e-5,
                                   atol=10 * BETA * np.finfo(np.float32).eps)
    np.testing.assert_allclose(runs[1].grid.times, runs[0].grid.times, rtol=2e-3 if profile == "acceleration" else 1e-5)


def test_same_seed_same_calibration():
    rng = np.random.default_rng(5)
    field = mixture_field(IsotropicMixture.equal_weights(rng.uniform(-2, 2, (4, 3)), 0.5), BETA)
    runs = [calibrate(field, 5, samples=6, points=16, iters=4, seed=s, bootstrap=30) for s in (11, 11, 12)]
    for name in ("rho", "A_trajectories", "A_hat", "A_band", "grid_band", "iterations", "unconverged"):
        np.testing.assert_array_equal(getattr(runs[0], name), getattr(runs[1], name))
    np.testing.assert_array_equal(runs[0].grid.times, runs[1].grid.times)
    assert not np.array_equal(runs[0].rho, runs[2].rho)


def test_acceleration_profile_quantile_progress_and_settings():
    rng = np.random.default_rng(6)
    field = mixture_field(IsotropicMixture.equal_weights(rng.uniform(-2, 2, (3, 2)), 0.3), BETA)
    calls = []
    result = calibrate(field, 4, samples=5, points=12, profile="acceleration", quantile=0.9, seed=1, bootstrap=10,
                       progress=lambda done, total: calls.append((done, total)))
    assert isinstance(result, Calibration)
    assert calls == [(j, 12) for j in range(1, 13)]
    assert np.all(result.rho >= 0) and result.A_total > 0
    np.testing.assert_allclose(result.A_hat, np.quantile(result.A_trajectories, 0.9, axis=0))
    assert result.grid.kind == "calibrated-acceleration" and result.grid.segments == 4
    assert np.all(result.iterations == 0)
    s = result.settings
    assert (s.samples, s.points, s.profile, s.quantile, s.seed, s.bootstrap, s.segments) == (
        5, 12, "acceleration", 0.9, 1, 10, 4)
    assert result.to_dict()["grid"]["t_min"] == 0.0 and result.seconds > 0


def test_cost_grows_with_samples_points_and_iterations():
    field = mixture_field(single_component(0.5), BETA)
    cost = calibration_cost(field, 64, 64, 8)
    assert cost.trajectories == 64 * 63 * 4 * 2
    assert cost.profile == 64 * 64 * (1 + 8 * 4)
    assert cost.total == cost.trajectories + cost.profile
    assert calibration_cost(field, 128, 64, 8).total == 2 * cost.total  # linear in N
    assert calibration_cost(field, 64, 64, 16).profile > cost.profile
    assert calibration_cost(field, 64, 64, 8, profile="acceleration").profile == 64 * 64 * 3
    assert "forward-pass equivalents" in cost.line()


BAD = [(dict(segments=0), "segments"), (dict(segments=10_001), "segments"), (dict(segments=2.5), "segments"),
       (dict(samples=1), "samples"), (dict(samples=65_537), "samples"), (dict(points=7), "points"),
       (dict(points=4097), "points"), (dict(samples=65_536, points=64), "samples"), (dict(iters=0), "iters"),
       (dict(iters=1001), "iters"), (dict(profile="curvature"), "profile"), (dict(quantile=1.5), "quantile"),
       (dict(quantile=-0.1), "quantile"), (dict(quantile="high"), "quantile"), (dict(seed=-1), "seed"),
       (dict(bootstrap=-1), "bootstrap"), (dict(progress=3), "progress"), (dict(tol=2.0), "tol"),
       (dict(substeps=0), "substeps"), (dict(field="model"), "field")]


@pytest.mark.parametrize("bad, name", BAD, ids=[f"{n}={list(b.values())[0]!r}" for b, n in BAD])
def test_bad_arguments_are_named_before_any_work(bad, name):
    args = dict(field=mixture_field(single_component(0.5), BETA), segments=4)
    args.update(bad)
    with pytest.raises(DistillPlanError) as err:
        calibrate(**args)
    assert err.value.argument == name
    if name in ("samples", "points", "iters", "profile", "substeps", "field"):
        cost_args = dict(field=args["field"], samples=args.get("samples", 64), points=args.get("points", 64),
                         iters=args.get("iters", 8), profile=args.get("profile", "jacobian"),
                         substeps=args.get("substeps", 2))
        with pytest.raises(DistillPlanError) as err:
            calibration_cost(**cost_args)
        assert err.value.argument == name
