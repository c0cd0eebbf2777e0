"""Acceptance: diffusers schedulers take a card's exports and report them back (diffusers 0.42; no weights).

What each scheduler does with the exports (checked below):

* ``EulerDiscreteScheduler.set_timesteps(timesteps=ts)`` — keeps the N timesteps, looks up σ/α of each in its
  float32 ᾱ table and appends one terminal value of its own: 0 (``final_sigmas_type="zero"``, the default) or
  σ/α of training step 0 (``"sigma_min"``) — for a DDPM grid ending at t_min = 0 exactly the card's σ_min.
* ``EulerDiscreteScheduler.set_timesteps(sigmas=s)`` — takes all N + 1 values as given, appends nothing and
  keeps a trailing 0 or a trailing σ_min alike; its timesteps are the fractional training steps of s[:-1].
* ``HeunDiscreteScheduler.set_timesteps(timesteps=ts)`` — no custom sigmas and no final_sigmas_type: appends 0,
  then repeats every interior point: timesteps ``[t0, t1, t1, …, t_{N-1}, t_{N-1}]`` (2N − 1) and sigmas
  ``[s0, s1, s1, …, s_{N-1}, s_{N-1}, 0]`` (2N).
* ``DPMSolverMultistepScheduler.set_timesteps(timesteps=ts)`` — like Euler's timesteps (cast to int64), appending
  0 or σ/α of training step 0 per ``final_sigmas_type``.
* ``UniPCMultistepScheduler.set_timesteps`` has no ``timesteps=``; its ``sigmas=`` work only with
  ``use_flow_sigmas=True`` (flow-matching times): it takes N values, lowers a first value of 1 by 1e-6, casts
  timesteps 1000·t to int64 and appends 0 (``"zero"``) or repeats its last value (``"sigma_min"``).
* ``FlowMatchEulerDiscreteScheduler(shift=1).set_timesteps(sigmas=t[:-1])`` — takes N values, always appends 0;
  its timesteps are 1000·t (any other shift rewrites the sigmas).
"""

import inspect

import numpy as np
import pytest

from distillplan.export import card_export, make_card

from .grids import ddpm, ddpm_fractional, ddpm_steps, process_grid

diffusers = pytest.importorskip("diffusers")

DDPM = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")
F32 = 2e-4  # σ/α from diffusers' float32 ᾱ table against the float64 one (σ_min = √((1 − ᾱ_0)/ᾱ_0) is the worst)


def _card(grid, process=None, terminal="zero"):
    return make_card(grid, ddpm() if process is None else process, what_for="sampler acceptance",
                     evidence="none", model="ddpm", parameterisation="epsilon", terminal=terminal)


@pytest.fixture(scope="module")
def card():
    return _card(ddpm_steps())


def _f32(values):
    return np.asarray(values, dtype=np.float32)


@pytest.mark.parametrize("final", ["zero", "sigma_min"])
def test_euler_timesteps(card, final):
    ts = card_export(card, "diffusers-timesteps")
    sig = card_export(card, "diffusers-sigmas", final)
    sched = diffusers.EulerDiscreteScheduler(**DDPM, final_sigmas_type=final)
    sched.set_timesteps(timesteps=ts)
    assert sched.timesteps.tolist() == ts and len(sched.sigmas) == len(ts) + 1
    np.testing.assert_allclose(sched.sigmas.numpy(), sig, rtol=F32, atol=0)
    assert (sched.sigmas[-1].item() == 0) == (final == "zero")


@pytest.mark.parametrize("grid", ["steps", "fractional"])
@pytest.mark.parametrize("terminal", ["zero", "sigma_min"])
def test_euler_sigmas(grid, terminal):
    times = ddpm_steps() if grid == "steps" else ddpm_fractional()
    card = _card(times)
    sig = card_export(card, "diffusers-sigmas", terminal)
    sched = diffusers.EulerDiscreteScheduler(**DDPM)
    sched.set_timesteps(sigmas=sig)
    np.testing.assert_array_equal(sched.sigmas.numpy(), _f32(sig))  # all N + 1 as given, nothing appended
    np.testing.assert_allclose(sched.timesteps.numpy(), times[:-1], atol=1e-2)  # fractional steps of s[:-1]


def test_heun_timesteps(card):
    ts = card_export(card, "diffusers-timesteps")
    sig = card_export(card, "diffusers-sigmas", "zero")
    sched = diffusers.HeunDiscreteScheduler(**DDPM)
    sched.set_timesteps(timesteps=ts)
    got = sched.timesteps.tolist()
    assert len(got) == 2 * len(ts) - 1 and got == [ts[0]] + [t for t in ts[1:] for _ in range(2)]
    assert list(dict.fromkeys(got)) == ts
    s = sched.sigmas.numpy()
    assert len(s) == 2 * len(ts) and s[-1] == 0.0
    np.testing.assert_allclose(s, [sig[0]] + [x for x in sig[1:-1] for _ in range(2)] + [0.0], rtol=F32, atol=0)


@pytest.mark.parametrize("final", ["zero", "sigma_min"])
def test_dpm_solver_timesteps(card, final):
    ts = card_export(card, "diffusers-timesteps")
    sig = card_export(card, "diffusers-sigmas", final)
    sched = diffusers.DPMSolverMultistepScheduler(**DDPM, final_sigmas_type=final)
    sched.set_timesteps(timesteps=ts)
    assert sched.timesteps.tolist() == ts
    np.testing.assert_allclose(sched.sigmas.numpy(), sig, rtol=F32, atol=0)


def test_fractional_grid_timesteps_are_rounded():
    card = _card(ddpm_fractional())
    ts = card_export(card, "diffusers-timesteps")
    for cls in (diffusers.EulerDiscreteScheduler, diffusers.DPMSolverMultistepScheduler):
        sched = cls(**DDPM)
        sched.set_timesteps(timesteps=ts)
        assert sched.timesteps.tolist() == ts == [int(x) for x in np.round(ddpm_fractional()[:-1])]


def test_unipc_takes_no_custom_vp_grid(card):
    """UniPC in diffusers 0.42: no ``timesteps=``; ``sigmas=`` refused unless ``use_flow_sigmas=True``."""
    assert "timesteps" not in inspect.signature(diffusers.UniPCMultistepScheduler.set_timesteps).parameters
    with pytest.raises(ValueError, match="use_flow_sigmas"):
        diffusers.UniPCMultistepScheduler(**DDPM).set_timesteps(sigmas=card_export(card, "diffusers-sigmas"))


@pytest.fixture(scope="module")
def flow_card():
    process, grid = process_grid("rectified-flow-full")
    return make_card(grid, process, what_for="flow sampling", evidence="none", model="rf",
                     parameterisation="velocity")


def test_flow_match_euler(flow_card):
    t = card_export(flow_card, "flow-matching")
    np.testing.assert_allclose(t, flow_card["grid"], rtol=1e-14, atol=1e-16)  # rectified flow: its own time
    sched = diffusers.FlowMatchEulerDiscreteScheduler(shift=1.0)
    sched.set_timesteps(sigmas=t[:-1])
    np.testing.assert_array_equal(sched.sigmas.numpy(), _f32(t))  # N given, 0 appended
    np.testing.assert_allclose(sched.timesteps.numpy(), 1000 * _f32(t[:-1]), rtol=1e-6)


@pytest.mark.parametrize("final", ["zero", "sigma_min"])
def test_unipc_flow_sigmas(flow_card, final):
    t = card_export(flow_card, "flow-matching")
    sched = diffusers.UniPCMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction",
                                              flow_shift=1.0, final_sigmas_type=final)
    sched.set_timesteps(sigmas=np.array(t[:-1]))  # a plain list trips its flow_shift arithmetic
    s = sched.sigmas.numpy()
    np.testing.assert_allclose(s[:-1], t[:-1], atol=2e-6, rtol=0)  # a first value of 1 is lowered by 1e-6
    assert s[-1] == (0.0 if final == "zero" else s[-2])
    assert sched.timesteps.tolist() == [int(x) for x in (1000 * s[:-1]).astype(np.int64)]
