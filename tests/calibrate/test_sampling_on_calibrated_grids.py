"""Sampling on refined calibrated grids converges to the fine teacher's sample (the exact mixture of paper 2;
``benchmarks/calibrated_sampling.py`` measures the same on the reference DDPM)."""

import numpy as np
import pytest
import torch

from distillplan.calibrate import calibrate
from distillplan.calibrate.stability import balanced_grid
from distillplan.calibrate.trajectories import pf_trajectories, profile_times
from distillplan.mixture import IsotropicMixture, OUProcess
from distillplan.models import MixtureField
from distillplan.sampling import sample

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("method", ["euler", "heun", "dpmpp-2m"])
def test_refined_calibrated_grids_converge_to_the_teacher(method):
    """Monotone convergence as n doubles. Measured: every sampler converges at about first order here, the
    second-order ones too, because the last step to σ = 0 is an Euler step in σ/α, and σ/α ∝ √t near the
    data end of a grid spaced in process time t, so that step's error is O(Δσ̃²) = O(Δt)."""
    rng = np.random.default_rng(0)
    field = MixtureField(IsotropicMixture.equal_weights(rng.uniform(-2, 2, (4, 3)), 0.3), OUProcess(5.0, 1.0))
    cal = calibrate(field, 4, samples=8, points=32, iters=6, bootstrap=0)
    x = field.prior(16, torch.Generator().manual_seed(5))
    teacher = pf_trajectories(field, x, profile_times(field.process, 257), substeps=4)[:, -1]
    errors = []
    for n in (8, 16, 32, 64):
        out = sample(field, x, balanced_grid(cal.curve, n).times, method)
        errors.append(float(torch.linalg.norm(out - teacher) / torch.linalg.norm(teacher)))
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < errors[0] / 4, errors
