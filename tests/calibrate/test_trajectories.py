"""RK4 trajectories at the profile times against the closed-form PF solution for Gaussian data."""

import numpy as np
import pytest
import torch

from distillplan import DistillPlanError
from distillplan.calibrate import SOLVER_ORDER, draw_noise, pf_trajectories, profile_times, step_times, walk

from .helpers import mixture_field, ou_variance, single_component

BETA = 5.0


@pytest.mark.parametrize("c", [0.1, 0.5, 2.0])
def test_rk4_matches_the_closed_form_for_gaussian_data(c):
    """OU with data N(0, c²): the PF flow is linear, x(t) = x(T)·sqrt(var(t)/var(T))."""
    field = mixture_field(single_component(c, dim=3), BETA)
    times = profile_times(field.process, 64)
    noise = draw_noise(field, 8, seed=1)
    states = pf_trajectories(field, noise, times).numpy()
    assert states.shape == (8, 64, 3)
    scale = np.sqrt(ou_variance(times, c, BETA) / ou_variance(times[0], c, BETA))
    exact = noise.numpy()[:, None, :] * scale[None, :, None]
    np.testing.assert_allclose(states, exact, rtol=1e-5, atol=0)  # measured: 5e-6 (c = 0.1), 3e-7, 1e-8


def test_the_error_falls_with_the_solver_order():
    field = mixture_field(single_component(0.5, dim=1), BETA)
    times = profile_times(field.process, 16)
    noise = draw_noise(field, 4, seed=0)
    exact = noise.numpy()[:, 0] * np.sqrt(ou_variance(times[-1], 0.5, BETA) / ou_variance(times[0], 0.5, BETA))
    errors = [np.abs(pf_trajectories(field, noise, times, substeps=s)[:, -1, 0].numpy() - exact).max()
              for s in (2, 4)]
    assert errors[1] < errors[0] / 2 ** (SOLVER_ORDER - 0.5)


def test_walk_streams_the_same_states_and_step_times_are_exact_at_the_profile_times():
    field = mixture_field(single_component(0.3), BETA)
    times = profile_times(field.process, 12)
    noise = draw_noise(field, 5, seed=2)
    stacked = pf_trajectories(field, noise, times, substeps=3)
    for j, x in walk(field, noise, times, substeps=3):
        assert torch.equal(x, stacked[:, j])
    grid = step_times(field.process, times, 3)
    assert grid.shape == (11, 4)
    np.testing.assert_array_equal(grid[:, 0], times[:-1])
    np.testing.assert_array_equal(grid[:, -1], times[1:])
    assert np.all(np.diff(grid, axis=1) < 0)
    assert step_times(field.process, times, 1).shape == (11, 2)


def test_noise_is_seeded():
    field = mixture_field(single_component(0.3), BETA)
    assert torch.equal(draw_noise(field, 4, 7), draw_noise(field, 4, 7))
    assert not torch.equal(draw_noise(field, 4, 7), draw_noise(field, 4, 8))


def test_bad_input_names_the_argument():
    field = mixture_field(single_component(0.3), BETA)
    times = profile_times(field.process, 8)
    cases = [(lambda: pf_trajectories(field, torch.zeros(4, 3, dtype=torch.float64), times), "x"),
             (lambda: pf_trajectories(field, [[0.0, 0.0]], times), "x"),
             (lambda: pf_trajectories("field", torch.zeros(4, 2), times), "field"),
             (lambda: pf_trajectories(field, torch.zeros(4, 2, dtype=torch.float64), times[::-1]), "times"),
             (lambda: pf_trajectories(field, torch.zeros(4, 2, dtype=torch.float64), times, substeps=0), "substeps"),
             (lambda: draw_noise(field, 0), "samples")]
    for call, name in cases:
        with pytest.raises(DistillPlanError) as err:
            call()
        assert err.value.argument == name
