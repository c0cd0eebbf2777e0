"""The measured stability coordinate and its grid against paper 2's closed forms."""

import numpy as np
import pytest

from distillplan import DistillPlanError
from distillplan.calibrate import (ProcessGrid, aggregate_curve, balanced_grid, bootstrap_bands, profile_times,
                                   trajectory_stability)
from distillplan.mixture import IsotropicMixture, OUProcess, cumulative_stability, lipschitz_bound, stability_grid
from distillplan.models import EDM, OUVP

from ..mixture.helpers import PAPER_D0, two_point_mixture

BETA = 5.0
CASES = [(0.1, 0.0), (0.5, 0.0), (2.0, 0.0), (0.1, PAPER_D0), (1.0, PAPER_D0), (0.5, 3.0)]


def _mixture(sigma0, d0):
    return two_point_mixture(d0, sigma0) if d0 else IsotropicMixture.equal_weights(np.zeros((1, 1)), sigma0)


@pytest.mark.parametrize("sigma0, d0", CASES)
def test_quadrature_of_the_bound_matches_the_closed_form(sigma0, d0):
    """ρ = L(t) at M = 64 points: Â(t) = ∫_0^t L to 1e-5 of A(T) at every point, and the grid to 1e-4."""
    mixture, process = _mixture(sigma0, d0), OUVP(BETA, 1.0, 0.0)
    times = profile_times(process, 64)
    rho = lipschitz_bound(times, mixture, OUProcess(BETA, 1.0))[None, :]
    stability = trajectory_stability(process, times, rho)
    exact = cumulative_stability(times, mixture, OUProcess(BETA, 1.0))
    assert stability.A[0, -1] == 0.0
    assert np.max(np.abs(stability.A[0] - exact)) <= 1e-5 * exact[0]  # measured: 8e-7 .. 4e-6
    curve = aggregate_curve(stability)
    for n in (4, 16):
        grid = balanced_grid(curve, n)
        ref = stability_grid(mixture, OUProcess(BETA, 1.0), n).times
        np.testing.assert_allclose(grid.times, ref, rtol=1e-4, atol=0)  # measured: <= 2e-5
        assert grid.t_min == 0.0 and grid.horizon == 1.0
        np.testing.assert_allclose(-np.diff(curve.at(grid.times)), curve.total / n, rtol=1e-10)


def test_rough_profiles_keep_a_non_decreasing_coordinate_and_equal_shares():
    process = EDM()
    times = profile_times(process, 40)
    rng = np.random.default_rng(0)
    rho = rng.exponential(1.0, (7, 40)) * (rng.random((7, 40)) > 0.4)  # spikes and zeros
    stability = trajectory_stability(process, times, rho)
    assert np.all(np.diff(stability.A, axis=1) <= 0)  # Â_i grows from t_min (last) to the horizon (first)
    for quantile in (None, 0.0, 0.5, 0.9, 1.0):
        curve = aggregate_curve(stability, quantile)
        t = np.linspace(process.t_min, process.horizon, 2001)
        assert np.all(np.diff(curve.at(t)) >= -1e-12 * curve.total)
        grid = balanced_grid(curve, 9)
        assert isinstance(grid, ProcessGrid) and grid.t_min == process.t_min
        np.testing.assert_allclose(-np.diff(curve.at(grid.times)), curve.total / 9, rtol=1e-9)


def test_mean_and_quantiles_of_the_trajectories():
    process = OUVP(BETA, 1.0, 0.0)
    times = profile_times(process, 16)
    rng = np.random.default_rng(1)
    rho = rng.uniform(0.5, 2.0, (5, 1)) * lipschitz_bound(times, _mixture(0.5, 3.0), OUProcess(BETA, 1.0))
    stability = trajectory_stability(process, times, rho)
    mean = aggregate_curve(stability)
    np.testing.assert_allclose(mean.values[::-1], stability.A.mean(axis=0), rtol=1e-12)
    # the mean of piecewise polynomials is the piecewise polynomial of the mean, between the points too
    t = np.linspace(0, 1, 37)
    rows = [aggregate_curve(trajectory_stability(process, times, rho[i:i + 1])).at(t) for i in range(5)]
    np.testing.assert_allclose(mean.at(t), np.mean(rows, axis=0), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(aggregate_curve(stability, 1.0).values[::-1], stability.A.max(axis=0))
    np.testing.assert_allclose(aggregate_curve(stability, 0.0).values[::-1], stability.A.min(axis=0))


def test_bootstrap_is_seeded_and_its_band_contains_the_estimate():
    process = OUVP(BETA, 1.0, 0.0)
    times = profile_times(process, 24)
    rng = np.random.default_rng(2)
    rho = rng.uniform(0.5, 2.0, (30, 1)) * lipschitz_bound(times, _mixture(0.5, 3.0), OUProcess(BETA, 1.0))
    stability = trajectory_stability(process, times, rho)
    for quantile in (None, 0.8):
        curve = aggregate_curve(stability, quantile)
        grid = balanced_grid(curve, 6)
        a_band, grid_band = bootstrap_bands(stability, 6, quantile, resamples=100, seed=3)
        again = bootstrap_bands(stability, 6, quantile, resamples=100, seed=3)
        np.testing.assert_array_equal(a_band, again[0])
        np.testing.assert_array_equal(grid_band, again[1])
        assert a_band.shape == (2, 24) and grid_band.shape == (2, 7)
        values = curve.values[::-1]
        assert np.all(a_band[0] <= values) and np.all(values <= a_band[1])
        assert np.all(grid_band[0] <= grid.times) and np.all(grid.times <= grid_band[1])
        assert np.any(grid_band[1] > grid_band[0])
    other = bootstrap_bands(stability, 6, None, resamples=100, seed=4)
    assert not np.array_equal(other[1], bootstrap_bands(stability, 6, None, resamples=100, seed=3)[1])


def test_process_grid_states_its_terminal_point():
    grid = ProcessGrid(np.array([80.0, 1.0, 0.002]), EDM().config())
    assert grid.t_min == 0.002 and grid.segments == 2 and grid.pairs() == [(80.0, 1.0), (1.0, 0.002)]
    with pytest.raises(DistillPlanError) as err:
        grid.to_time_grid()
    assert err.value.argument == "grid"
    ou = ProcessGrid(np.array([1.0, 0.5, 0.0]), OUVP().config())
    assert ou.to_time_grid().times.tolist() == [1.0, 0.5, 0.0]
    with pytest.raises(DistillPlanError):
        ProcessGrid(np.array([1.0, 1.0, 0.0]), OUVP().config())


def test_bad_input_names_the_argument():
    process = OUVP(BETA, 1.0, 0.0)
    times = profile_times(process, 8)
    good = np.ones((2, 8))
    zero = aggregate_curve(trajectory_stability(process, times, np.zeros((2, 8))))
    cases = [(lambda: trajectory_stability(process, times[1:], good[:, 1:]), "times"),
             (lambda: trajectory_stability(process, times[::-1], good), "times"),
             (lambda: trajectory_stability(process, times, good[:, 1:]), "rho"),
             (lambda: trajectory_stability(process, times, -good), "rho"),
             (lambda: aggregate_curve(trajectory_stability(process, times, good), 1.5), "quantile"),
             (lambda: balanced_grid(zero, 4), "curve"),
             (lambda: balanced_grid(aggregate_curve(trajectory_stability(process, times, good)), 0), "segments"),
             (lambda: bootstrap_bands(trajectory_stability(process, times, good), 4, resamples=0), "resamples")]
    for call, name in cases:
        with pytest.raises(DistillPlanError) as err:
            call()
        assert err.value.argument == name, (name, err.value)
