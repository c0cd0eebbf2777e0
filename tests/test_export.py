"""Exports against the samplers that consume them (diffusers is a test dependency; no weights needed)."""

import json

import numpy as np
import pytest

from distillplan import DistillPlanError, VPSchedule
from distillplan.cli import main
from distillplan.export import (ddim_sample, diffusers_sigmas, diffusers_timesteps, export_document,
                                flow_matching_times, from_alphas, from_ou_grid, from_vp_indices, kdiffusion_sigmas,
                                plan_boundaries)
from distillplan.linear import LinearTeacher, Plan
from distillplan.mixture import IsotropicMixture, OUProcess, stability_grid

diffusers = pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def ou_path():
    mix = IsotropicMixture.equal_weights(np.array([[-3.0, 0.0], [3.0, 0.0]]), 1.0)
    grid = stability_grid(mix, OUProcess(5.0, 1.0), 8)
    return from_ou_grid(grid.times, 5.0)


@pytest.mark.parametrize("name", ["DDPMScheduler", "EulerDiscreteScheduler", "DPMSolverMultistepScheduler",
                                  "LCMScheduler", "HeunDiscreteScheduler"])
def test_diffusers_accepts_timesteps(ou_path, name):
    ts = diffusers_timesteps(ou_path)
    assert ts == sorted(ts, reverse=True) and len(set(ts)) == len(ts) == 8
    sched = getattr(diffusers, name)(num_train_timesteps=1000)
    sched.set_timesteps(timesteps=ts)
    got = [int(round(float(t))) for t in sched.timesteps]
    if name == "HeunDiscreteScheduler":  # Heun evaluates every interior step twice
        got = list(dict.fromkeys(got))
    assert got == ts


def test_timesteps_track_the_grid(ou_path):
    ab = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    ts = diffusers_timesteps(ou_path)
    np.testing.assert_allclose(np.sqrt(ab[ts]), ou_path.alphas[:-1], rtol=0.05)


def test_diffusers_accepts_sigmas(ou_path):
    sig = diffusers_sigmas(ou_path)
    assert len(sig) == 9 and sig[-1] == 0.0 and sig == sorted(sig, reverse=True)
    sched = diffusers.EulerDiscreteScheduler(num_train_timesteps=1000)
    sched.set_timesteps(sigmas=sig)
    np.testing.assert_allclose(sched.sigmas.numpy(), sig, rtol=1e-5)


def test_flow_matching_times(ou_path):
    t = flow_matching_times(ou_path)
    assert t[-1] == 0.0 and all(0 <= x <= 1 for x in t) and t == sorted(t, reverse=True)
    sched = diffusers.FlowMatchEulerDiscreteScheduler()
    sched.set_timesteps(sigmas=t[:-1])
    np.testing.assert_allclose(sched.sigmas.numpy(), t, rtol=1e-5)
    # same SNR: t/(1 − t) = σ/α
    a, s = ou_path.alphas[:-1], ou_path.sigmas[:-1]
    np.testing.assert_allclose(np.array(t[:-1]) / (1 - np.array(t[:-1])), s / a, rtol=1e-12)


def test_kdiffusion_sigmas(ou_path):
    s = kdiffusion_sigmas(ou_path)
    np.testing.assert_allclose(s[:-1], ou_path.sigmas[:-1] / ou_path.alphas[:-1], rtol=1e-15)
    assert s[-1] == 0.0


@pytest.mark.parametrize("grid", [list(range(16, -1, -1)), [16, 11, 7, 4, 2, 1, 0], [16, 0]])
def test_custom_sampler_reproduces_ddim_composite(grid):
    """DDIM over the grid with the exact linear-Gaussian denoiser = the analytic DDIM composite."""
    lam = np.array([0.2, 1.0, 3.5])
    sched = VPSchedule.cosine(16)
    te = LinearTeacher(sched, lam)
    path = from_vp_indices(grid, sched)

    def x0_pred(x, alpha):
        s2 = 1 - alpha**2
        return alpha * lam / (alpha**2 * lam + s2) * x

    x = np.ones(3)
    out = ddim_sample(x0_pred, x, path.alphas, predicts="x0")
    expected = np.prod([te.jump(a, b) for a, b in zip(grid[:-1], grid[1:])], axis=0)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    if grid == list(range(16, -1, -1)):
        np.testing.assert_allclose(out, te.surrogate(), rtol=1e-12)


def test_custom_sampler_epsilon_and_torch():
    torch = pytest.importorskip("torch")
    lam = 0.7
    alphas = np.array([0.05, 0.3, 0.8, 1.0])

    def eps_pred(x, alpha):
        s = np.sqrt(1 - alpha**2)
        return s / (alpha**2 * lam + s**2) * x

    out = ddim_sample(eps_pred, torch.ones(4, dtype=torch.float64), alphas)
    ref = ddim_sample(lambda x, a: a * lam / (a**2 * lam + 1 - a**2) * x, np.ones(4), alphas, predicts="x0")
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)


def test_plan_boundaries():
    assert plan_boundaries(Plan.parse("[[8,7,6],[5,4],3,[2,1]]")) == [8, 5, 3, 2, 0]


def test_export_errors():
    with pytest.raises(DistillPlanError) as err:
        from_ou_grid([1.0, 0.5, 0.6, 0.0], 5.0)
    assert err.value.argument == "grid"
    with pytest.raises(DistillPlanError, match="grid"):
        from_ou_grid([1.0, 0.5], 5.0)
    close = from_ou_grid([1.0, 0.5, 0.4999999, 0.0], 5.0)
    with pytest.raises(DistillPlanError) as err:
        diffusers_timesteps(close)
    assert err.value.argument == "target"
    with pytest.raises(DistillPlanError, match="target"):
        kdiffusion_sigmas(from_alphas([0.0, 0.5, 1.0]))
    doc = export_document(from_alphas([0.0, 0.5, 1.0]))
    assert doc["k_diffusion_sigmas"] is None and "k_diffusion_sigmas" in doc["not_representable"]


def test_export_cli(capsys):
    main(["export", "--grid", "1,0.2079,0.0693,0", "--beta", "5", "--target", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["steps"] == 3 and len(doc["diffusers_timesteps"]) == 3 and doc["k_diffusion_sigmas"][-1] == 0
    main(["export", "--grid", "[[8,7,6,5],[4,3],[2,1]]", "--convention", "plan", "--target", "diffusers-timesteps"])
    ts = json.loads(capsys.readouterr().out)
    assert len(ts) == 3 and ts == sorted(ts, reverse=True)
    with pytest.raises(SystemExit) as exc:
        main(["export", "--grid", "1,0.5,0.7,0"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("error: grid:")
