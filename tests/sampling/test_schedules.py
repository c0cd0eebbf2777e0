"""Schedules of :mod:`distillplan.sampling.schedules`: exact ends, closed forms, and the fitted programmes
against direct evaluation and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from distillplan.calibrate.trajectories import pf_trajectories, profile_times
from distillplan.errors import DistillPlanError
from distillplan.mixture import OUProcess, paper_mixture, stability_grid
from distillplan.models import FunctionField
from distillplan.models.processes import DEFAULT_SIGMA_MIN, OUVP, DiscreteVP
from distillplan.sampling import sample
from distillplan.sampling.schedules import (
    SCHEDULES,
    gits_times,
    jump_costs,
    karras_times,
    logsnr_times,
    make_schedule_times,
    mixture_stability_times,
    oss_times,
    uniform_times,
)

pytestmark = pytest.mark.usefixtures("one_thread")

PROCESSES = [DiscreteVP.from_betas(), OUVP(t_min=0.0), OUVP()]


def gaussian_field(process, dim=6, s=0.7):
    """Exact PF field of N(0, s² I) data: ε̂ = σ x/(α² s² + σ²)."""

    def velocity(x, t):
        a, b = process.pf_coefficients(t)
        alpha, sigma = float(process.alpha(t)), float(process.sigma(t))
        return a * x + b * sigma * x / (alpha**2 * s**2 + sigma**2)

    return FunctionField(velocity, process, (dim,))


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: f"{p.name}-{p.t_min:g}")
@pytest.mark.parametrize("builder", [uniform_times, logsnr_times, karras_times])
@pytest.mark.parametrize("n", [1, 2, 5, 16])
def test_spaced_schedules_have_exact_ends(process, builder, n):
    t = builder(process, n)
    assert t.shape == (n + 1,) and t[0] == process.horizon and t[-1] == process.t_min
    assert np.all(np.diff(t) < 0)


def test_logsnr_and_karras_closed_forms_on_a_training_table():
    p = PROCESSES[0]
    top, end = p.kdiffusion_sigma(p.horizon), p.kdiffusion_sigma(p.t_min)
    lam = p.log_snr(logsnr_times(p, 7))
    np.testing.assert_allclose(np.diff(lam), (2 * np.log(top) - 2 * np.log(end)) / 7, rtol=1e-8)
    k = np.arange(8) / 7
    expected = ((1 - k) * top ** (1 / 7) + k * end ** (1 / 7)) ** 7
    np.testing.assert_allclose(p.kdiffusion_sigma(karras_times(p, 7)), expected, rtol=1e-8)


def test_a_zero_noise_end_takes_one_last_step_from_sigma_min():
    p = PROCESSES[1]
    t = karras_times(p, 6)
    assert p.sigma(t[-1]) == 0
    np.testing.assert_allclose(p.kdiffusion_sigma(t[-2]), DEFAULT_SIGMA_MIN, rtol=1e-8)


def test_mixture_stability_on_the_same_ou_process_is_the_analytic_grid():
    mixture, ou = paper_mixture(5, 8, 0), OUProcess(5.0, 1.0)
    got = mixture_stability_times(OUVP(beta=5.0, horizon=1.0, t_min=0.0), 8, mixture, ou)
    np.testing.assert_allclose(got, stability_grid(mixture, ou, 8).times, rtol=1e-9, atol=1e-12)


def _fine(field, points=7, samples=5):
    times = profile_times(field.process, points)
    noise = field.prior(samples, torch.Generator().manual_seed(3)).double()
    return times, pf_trajectories(field, noise, times, substeps=8)


def test_jump_costs_are_single_euler_jumps_against_the_teacher():
    field = gaussian_field(PROCESSES[0])
    field.dtype = torch.float64
    times, states = _fine(field)
    cost = jump_costs(field, times, states)
    for i, j in [(0, 1), (0, 6), (2, 5), (4, 6)]:
        jumped = sample(field, states[:, i].clone(), [times[i], times[j]], "euler")
        expected = (jumped - states[:, j]).norm(dim=1).mean().item()
        assert cost[i, j] == pytest.approx(expected, rel=1e-10)
    assert np.all(np.tril(cost) == 0)


@pytest.mark.parametrize("coefficient", [1.0, 1.15])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_gits_schedule_is_the_brute_force_minimum(n, coefficient):
    field = gaussian_field(PROCESSES[0])
    field.dtype = torch.float64
    times, states = _fine(field)
    cost = jump_costs(field, times, states)
    P = times.size

    def value(path):
        total = 0.0
        for i, j in zip(path[:-1], path[1:]):
            total = coefficient * total + cost[i, j]
        return total

    best = min(((0, *mid, P - 1) for mid in itertools.combinations(range(1, P - 1), n - 1)), key=value)
    np.testing.assert_array_equal(gits_times(field, n, times, states, coefficient), times[list(best)])
    np.testing.assert_array_equal(gits_times(field, n, times, states, coefficient, costs=cost), times[list(best)])


def test_oss_schedule_reports_a_path_whose_sampled_error_beats_evenly_spaced_indices():
    field = gaussian_field(PROCESSES[2])
    field.dtype = torch.float64
    times, states = _fine(field, points=9)
    grid = oss_times(field, 3, times, states)
    assert grid[0] == times[0] and grid[-1] == times[-1] and set(grid) <= set(times)

    def error(g):
        return ((sample(field, states[:, 0].clone(), g, "euler") - states[:, -1]) ** 2).mean().item()

    assert error(grid) <= error(times[[0, 3, 6, 8]]) + 1e-15


def test_make_schedule_times_names_and_missing_inputs():
    p = PROCESSES[0]
    np.testing.assert_array_equal(make_schedule_times("uniform", 4, process=p), uniform_times(p, 4))
    with pytest.raises(DistillPlanError, match="schedule"):
        make_schedule_times("linear", 4, process=p)
    for name in SCHEDULES[3:]:
        with pytest.raises(DistillPlanError):
            make_schedule_times(name, 4, process=p)
