"""The same samplers run through diffusers' own schedulers, for fields on a diffusers ᾱ table.

For a field whose process is a :class:`~distillplan.models.processes.DiscreteVP`, a scheduler is built from
the field's table (``trained_betas`` β_k = 1 − ᾱ_k/ᾱ_{k−1}, β_0 = 1 − ᾱ_0, ``prediction_type="epsilon"``;
diffusers recomputes ᾱ in float32) and its ``step()`` is driven with ε̂ from the field:

* ``euler`` — ``EulerDiscreteScheduler.set_timesteps(sigmas=σ̃)`` with σ̃ = σ/α of every grid time, all
  N+1 values; with custom sigmas diffusers appends nothing, so the run ends at the grid's last σ̃.
* ``heun`` — ``HeunDiscreteScheduler.set_timesteps(timesteps=τ)``. Heun reads σ̃ at τ by linear
  interpolation of its table in the training step, so τ = that interpolation inverted at σ̃(t).
* ``dpmpp-2m`` — ``DPMSolverMultistepScheduler`` (``dpmsolver++``, order 2, midpoint,
  ``lower_order_final=False``). ``timesteps=`` is cast to int64, so the grid is rounded to whole
  training steps and deduplicated.

Heun and DPM append a final σ̃ = 0 (or σ_min) to the grid. That step is never taken: the loop stops when it
reaches the grid's last point, as the native samplers do (:mod:`.samplers`).

Mapping. Euler and Heun keep the k-diffusion state x̃ = x/α, with α = 1/√(1+σ̃²) for VP. Their
``scale_model_input`` divides by √(σ̃²+1), which gives back the VP state x that the model expects. DPM keeps x
itself, and its ``scale_model_input`` is the identity. So the model always gets ``scale_model_input(state)``
at t = ``process.time_of_log_snr(−2 ln σ̃)``, the process time of the scheduler's current (float32) σ̃. The
run starts from ``noise`` as x at the first grid point and returns x at the last. :func:`effective_times`
gives these times: this is the grid actually run, which differs from ``times`` by float32 rounding of σ̃ and
ᾱ (and for DPM by the rounding to whole steps).

Differences from the native samplers: diffusers does its σ̃ arithmetic in float32 (σ̃ steps, √(σ̃²+1)), and
its Euler and DPM ``step()`` also upcast the state to float32. So on :func:`effective_times` the results agree
with native ``sample()`` to about 1e-6 relative, not to float64 precision. Long steps amplify the rounding
(3e-5 for the grid 999 → 500 → 0). The integrators are otherwise the same.

Other processes (such as OUVP for the exact :class:`~distillplan.models.MixtureField`) and ``ddim`` run the
native :func:`~distillplan.sampling.samplers.sample`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DistillPlanError, check_finite_array
from ..models.field import VelocityField
from ..models.processes import DiscreteVP
from .samplers import epsilon, sample

__all__ = ["SAMPLERS", "effective_times", "run_sampler"]

SAMPLERS = ("euler", "heun", "dpmpp-2m", "ddim")


def run_sampler(field: VelocityField, noise: torch.Tensor, times, sampler: str) -> tuple[torch.Tensor, int]:
    """Integrate from ``noise`` (x at ``times[0]``) to ``times[-1]``; returns ``(x, model evaluations made)``.

    Times are process times, strictly decreasing; :func:`effective_times` gives the grid actually run."""
    t = _check(field, times, sampler)
    counted = _Counted(field)
    if not _uses_diffusers(field, sampler):
        return sample(counted, noise, t, sampler), counted.calls
    scheduler, t_run, sig = _scheduler(field.process, t, sampler, noise.device)
    kdiffusion = sampler != "dpmpp-2m"  # Euler/Heun step x̃ = x/α; DPM steps x itself
    # Heun evaluates twice per step, at σ̃_i and at the predicted point σ̃_{i+1}
    at = np.concatenate([t_run[:1], np.repeat(t_run[1:], 2)]) if sampler == "heun" else t_run
    state = noise * float(np.sqrt(1 + sig[0] ** 2)) if kdiffusion else noise
    scheduler.set_begin_index(0)
    with torch.no_grad():
        for i in range(at.size - 1):  # stop at the grid's last point, before the scheduler's appended σ̃
            step = scheduler.timesteps[i]
            eps = epsilon(counted, scheduler.scale_model_input(state, step), float(at[i]))
            state = scheduler.step(eps, step, state).prev_sample
    return (state / float(np.sqrt(1 + sig[-1] ** 2)) if kdiffusion else state), counted.calls


def effective_times(field: VelocityField, times, sampler: str) -> np.ndarray:
    """The process-time grid :func:`run_sampler` actually runs for ``times``: ``times`` itself on the native
    path, else the process times of the scheduler's σ̃ grid (float32 σ̃, DPM rounded to whole steps)."""
    t = _check(field, times, sampler)
    if not _uses_diffusers(field, sampler):
        return t
    return _scheduler(field.process, t, sampler, torch.device("cpu"))[1]


def _check(field, times, sampler: str) -> np.ndarray:
    if sampler not in SAMPLERS:
        raise DistillPlanError("sampler", f"unknown sampler {sampler!r}; choose from {list(SAMPLERS)}")
    t = check_finite_array("grid", times)
    if t.size < 2 or not np.all(np.diff(t) < 0):
        raise DistillPlanError("grid", "needs at least 2 strictly decreasing times (noise → data)")
    return field.process.check_times(t, "grid")


def _uses_diffusers(field, sampler: str) -> bool:
    return sampler != "ddim" and isinstance(field.process, DiscreteVP)


def _scheduler(process: DiscreteVP, t: np.ndarray, sampler: str, device):
    """The scheduler set to the grid ``t``, and the process times and σ̃ (float64 of its float32 values) of the
    grid points it runs (its own appended final σ̃ left out)."""
    try:
        from diffusers import DPMSolverMultistepScheduler, EulerDiscreteScheduler, HeunDiscreteScheduler
    except ImportError:
        raise DistillPlanError("sampler", "diffusers samplers need the diffusers package "
                                          "(pip install 'distillplan[diffusers]')") from None
    ab = np.asarray(process.alphas_bar, dtype=np.float64)
    common = {"num_train_timesteps": ab.size, "trained_betas": 1.0 - ab / np.concatenate([[1.0], ab[:-1]]),
              "prediction_type": "epsilon"}
    if sampler == "euler":
        s = EulerDiscreteScheduler(**common)
        s.set_timesteps(sigmas=process.kdiffusion_sigma(t).tolist(), device=device)
        nodes = s.sigmas
    elif sampler == "heun":
        s = HeunDiscreteScheduler(**common)
        table = (((1 - s.alphas_cumprod) / s.alphas_cumprod) ** 0.5).double().numpy()
        s.set_timesteps(timesteps=np.interp(process.kdiffusion_sigma(t), table, np.arange(ab.size)).tolist(),
                        device=device)
        nodes = s.sigmas[0::2]  # of [σ̃_0, σ̃_1, σ̃_1, …, σ̃_n, σ̃_n, 0]: each grid point once
    else:
        steps = np.unique(np.round(t).astype(np.int64))[::-1]
        if steps.size < 2:
            raise DistillPlanError("grid", f"rounds to fewer than 2 distinct training steps ({steps.tolist()})")
        s = DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2,
                                        solver_type="midpoint", lower_order_final=False)
        s.set_timesteps(timesteps=steps.tolist(), device=device)
        nodes = s.sigmas
    sig = nodes.double().numpy()[: len(t) if sampler != "dpmpp-2m" else steps.size]
    if not np.all(np.diff(sig) < 0):
        raise DistillPlanError("grid", "points closer than float32 resolution of σ/α collapse in diffusers")
    return s, np.asarray(process.time_of_log_snr(-2.0 * np.log(sig)), dtype=np.float64), sig


class _Counted:
    """``field`` with its ``velocity``/``epsilon`` calls counted (exactly one of them per evaluation)."""

    def __init__(self, field):
        self._field, self.calls = field, 0

    def __getattr__(self, name):
        value = getattr(self._field, name)
        if name not in ("velocity", "epsilon"):
            return value

        def counted(*args, **kwargs):
            self.calls += 1
            return value(*args, **kwargs)

        return counted
