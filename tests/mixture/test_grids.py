"""distillplan.mixture.grids: stability-balanced and baseline time grids."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillplan.errors import DistillPlanError
from distillplan.mixture import (
    GRID_KINDS,
    OUProcess,
    cumulative_stability,
    karras_grid,
    logsnr_grid,
    make_grid,
    segment_stability,
    stability_grid,
    uniform_grid,
)
from distillplan.schedules import TimeGrid

from .helpers import PAPER_D0, two_point_mixture

#: Research digest §3 / §6 item 6 (β = 5, T = 1, σ0 = 1), rounded to 6 decimals.
STABILITY_N8 = [1, 0.207912, 0.138616, 0.098075, 0.069310, 0.046998, 0.028767, 0.013352, 0]
#: §6 item 7: per-segment ∫L on the uniform n = 8 grid, from t = T down to 0.
UNIFORM_N8_BUDGET = [0.0238, 0.0829, 0.2894, 1.010, 3.525, 12.30, 42.95, 149.90]


def _closed_form_sigma1(n: int, beta: float = 5.0, horizon: float = 1.0) -> np.ndarray:
    """σ0 = 1: t_j = −ln(1 − j(1 − e^{−2βT}))/(2β), j = k/n, returned decreasing."""
    j = np.arange(n, -1, -1) / n
    return -np.log1p(-j * -np.expm1(-2 * beta * horizon)) / (2 * beta)


# ---------------------------------------------------------------------- stability grid
@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_stability_grid_sigma1_closed_form(paper_process, n):
    grid = stability_grid(two_point_mixture(PAPER_D0, 1.0), paper_process, n)
    np.testing.assert_allclose(grid.times, _closed_form_sigma1(n), rtol=0, atol=1e-8)
    assert grid.times[0] == 1.0 and grid.times[-1] == 0.0 and grid.kind == "stability"


def test_stability_grid_research_list_and_independence_of_d0(paper_process):
    grid = stability_grid(two_point_mixture(PAPER_D0, 1.0), paper_process, 8)
    np.testing.assert_allclose(grid.times, STABILITY_N8, atol=5e-7)
    other = stability_grid(two_point_mixture(3.0, 1.0), paper_process, 8)
    np.testing.assert_allclose(other.times, grid.times, atol=1e-13)
    # the n = 2 midpoint is the n = 8 midpoint, ≈ ln 2 / (2β) (exp2's Δ)
    mid = stability_grid(two_point_mixture(PAPER_D0, 1.0), paper_process, 2).times[1]
    assert mid == pytest.approx(grid.times[4], abs=1e-15)
    assert mid == pytest.approx(np.log(2) / 10, abs=1e-5)


@pytest.mark.parametrize("sigma0", [2.0, 1.0, 0.5, 0.1, 0.01, 1e-3, 1e-4])
@pytest.mark.parametrize("n", [1, 3, 8, 16])
def test_stability_grid_balances_the_budget(paper_process, sigma0, n):
    mix = two_point_mixture(PAPER_D0, sigma0)
    grid = stability_grid(mix, paper_process, n)
    budget = segment_stability(grid, mix, paper_process)
    total = cumulative_stability(1.0, mix, paper_process)
    np.testing.assert_allclose(budget, total / n, rtol=1e-9)
    assert budget.sum() == pytest.approx(total, rel=1e-12)


def test_stability_grid_needs_a_positive_budget(paper_process):
    with pytest.raises(DistillPlanError, match="^mixture:"):
        stability_grid(two_point_mixture(0.0, 1.0), paper_process, 4)


# ---------------------------------------------------------------------- baselines
def test_uniform_grid_and_its_unbalanced_budget(paper_process):
    grid = uniform_grid(8, 1.0)
    np.testing.assert_array_equal(grid.times, 1 - np.arange(9) / 8)
    budget = segment_stability(grid, two_point_mixture(PAPER_D0, 1.0), paper_process)
    np.testing.assert_allclose(budget, UNIFORM_N8_BUDGET, rtol=2e-3)
    assert budget.sum() == pytest.approx(210.088, rel=1e-6)


def test_karras_grid_follows_edm_spacing(paper_process):
    grid = karras_grid(paper_process, 6, rho=7.0, sigma_min=0.002)
    sigma = paper_process.noise_to_signal(grid.times[:-1])
    smax, smin = np.sqrt(np.expm1(10.0)), 0.002
    expected = (smax ** (1 / 7) + np.arange(6) / 5 * (smin ** (1 / 7) - smax ** (1 / 7))) ** 7
    np.testing.assert_allclose(sigma, expected, rtol=1e-10)
    assert grid.times[-1] == 0.0 and grid.segments == 6


def test_logsnr_grid_is_uniform_in_log_snr(paper_process):
    grid = logsnr_grid(paper_process, 5, t_min=1e-3)
    lam = paper_process.log_snr(grid.times[:-1])
    np.testing.assert_allclose(np.diff(lam), np.full(4, (lam[-1] - lam[0]) / 4), rtol=1e-10)
    assert grid.times[-2] == pytest.approx(1e-3, rel=1e-12)
    default = logsnr_grid(paper_process, 5)
    assert paper_process.noise_to_signal(default.times[-2]) == pytest.approx(0.002, rel=1e-10)


def test_baseline_argument_checks(paper_process):
    with pytest.raises(DistillPlanError, match="^sigma_min:"):
        karras_grid(paper_process, 4, sigma_min=1e3)
    with pytest.raises(DistillPlanError, match="^rho:"):
        karras_grid(paper_process, 4, rho=0)
    with pytest.raises(DistillPlanError, match="^t_min:"):
        logsnr_grid(paper_process, 4, t_min=2.0)
    with pytest.raises(DistillPlanError, match="^n:"):
        uniform_grid(0, 1.0)


# ---------------------------------------------------------------------- dispatcher, contract
def test_make_grid_dispatches_and_rejects_unknown_kinds(paper_process):
    mix = two_point_mixture(PAPER_D0, 1.0)
    assert make_grid("stability", 8, paper_process, mix).kind == "stability"
    np.testing.assert_array_equal(make_grid("uniform", 4, paper_process).times, uniform_grid(4, 1.0).times)
    with pytest.raises(DistillPlanError, match="^kind:.*'cosine'"):
        make_grid("cosine", 4, paper_process, mix)
    with pytest.raises(DistillPlanError, match="^mixture:"):
        make_grid("stability", 4, paper_process)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(GRID_KINDS),
    n=st.integers(1, 40),
    beta=st.floats(0.5, 20.0),
    horizon=st.floats(0.2, 3.0),
    log_sigma0=st.floats(-4.0, 0.5),
)
def test_every_kind_gives_a_valid_grid(kind, n, beta, horizon, log_sigma0):
    process = OUProcess(beta, horizon)
    grid = make_grid(kind, n, process, two_point_mixture(PAPER_D0, 10.0**log_sigma0))
    assert isinstance(grid, TimeGrid) and grid.kind == kind
    assert grid.segments == n
    assert grid.times[0] == horizon and grid.times[-1] == 0.0
    assert np.all(np.diff(grid.times) < 0)


@pytest.mark.parametrize(
    "times", [[1.0, 0.5, 0.6, 0.0], [1.0, 0.5, 0.5, 0.0], [1.0, 0.5, 0.1], [0.0, 0.0], [1.0], [1.0, np.nan, 0.0]]
)
def test_time_grid_rejects_bad_grids(times):
    with pytest.raises(DistillPlanError, match="^grid:"):
        TimeGrid(np.array(times))


def test_segment_stability_accepts_plain_arrays_and_validates_them(paper_process):
    mix = two_point_mixture(PAPER_D0, 1.0)
    np.testing.assert_allclose(segment_stability([1.0, 0.5, 0.0], mix, paper_process),
                               segment_stability(uniform_grid(2, 1.0), mix, paper_process))
    with pytest.raises(DistillPlanError, match="^grid:"):
        segment_stability([0.0, 0.5, 1.0], mix, paper_process)
