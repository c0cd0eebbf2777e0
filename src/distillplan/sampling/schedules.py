"""Few-step time grids for any noise process: the schedules people use, the stability grids, and the fitted
step programmes of GITS and OptimalSteps.

Every builder returns ``n + 1`` process times strictly decreasing from exactly ``horizon`` to exactly
``t_min`` (:mod:`distillplan.models.processes`). Noise levels are σ̃ = σ/α (k-diffusion's σ) and
λ = 2 ln(α/σ) (log-SNR). Where the data end has σ(t_min) = 0 (λ = +∞: OU at t = 0), the spaced schedules
run to σ̃_min = :data:`~distillplan.models.processes.DEFAULT_SIGMA_MIN` in n − 1 steps and take one last
step to t_min, as EDM does; where σ̃(t_min) > 0 (a diffusers training table) they run to σ̃(t_min) in n steps.

* ``uniform`` — ``t_k = T − k (T − t_min)/n``.
* ``logsnr`` — uniform in λ.
* ``karras`` — ``σ̃_k = ((1 − k/m) σ̃_max^{1/ρ} + (k/m) σ̃_min^{1/ρ})^ρ``, ρ = 7 (EDM).
* ``mixture-stability`` — paper 2's stability grid of a mixture fitted to data, balanced on the analytic
  A(t) of an OU process (what ``recommend`` gives), mapped to the model's process at equal log-SNR.
* ``calibrated`` / ``acceleration`` — the grid balancing a :class:`~distillplan.calibrate.Calibration`'s
  measured Â(t) (Jacobian or acceleration profile) in n segments.
* ``gits`` — GITS-style: ``C[i, j]`` = mean over a calibration batch of ‖Euler jump(x_i, t_i → t_j) − x_j‖₂
  against the teacher's states x on a fine grid, then (1) of :mod:`.dp` with coefficient γ.
* ``oss`` — OptimalSteps-style: (2) of :mod:`.dp` with Euler jumps of the carried batch state and error
  the mean squared distance to the teacher's state.

An Euler jump is ``x̃_j = x̃_i + (σ̃_j − σ̃_i) ε̂(x_i, t_i)`` in x̃ = x/α (DDIM's map): the one-step sampler
both tools fit their programmes with.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DistillPlanError, check_int_range, check_positive
from ..models.processes import DEFAULT_SIGMA_MIN
from .dp import GITS_COEFFICIENT, gits_steps, optimal_steps
from .samplers import epsilon

__all__ = ["SCHEDULES", "FITTED", "MAX_STEPS", "uniform_times", "logsnr_times", "karras_times",
           "mixture_stability_times", "calibrated_times", "jump_costs", "gits_times", "oss_times",
           "make_schedule_times"]

SCHEDULES = ("uniform", "logsnr", "karras", "mixture-stability", "calibrated", "acceleration", "gits", "oss")
FITTED = ("mixture-stability", "calibrated", "acceleration", "gits", "oss")
"""Schedules fitted on data or on model evaluations (the rest depend on the process only)."""
MAX_STEPS = 10_000
KARRAS_RHO = 7.0


def _finish(process, times: np.ndarray, name: str) -> np.ndarray:
    times = np.asarray(times, dtype=np.float64).copy()
    times[0], times[-1] = process.horizon, process.t_min
    if not np.all(np.diff(times) < 0):
        raise DistillPlanError("n", f"the {name} schedule with {times.size - 1} steps places two points at the same "
                                    f"float64 time; use fewer steps")
    return times


def _noise_levels(process, n: int, spacing) -> np.ndarray:
    """Grid from σ̃-spacing ``spacing(lo, hi, m) -> m + 1 levels`` (module docstring: the data end)."""
    top = float(process.kdiffusion_sigma(process.horizon))
    end = float(process.kdiffusion_sigma(process.t_min))
    if not np.isfinite(top):
        raise DistillPlanError("process", f"the {process.name} process has σ/α = ∞ at its horizon; noise-level "
                                          f"schedules need a finite noise end")
    if end > 0:
        levels = spacing(top, end, n)
        return process.time_of_log_snr(-2.0 * np.log(levels))
    if n == 1:
        return np.array([process.horizon, process.t_min])
    floor = min(DEFAULT_SIGMA_MIN, 0.5 * top)
    levels = spacing(top, floor, n - 1)
    return np.concatenate([process.time_of_log_snr(-2.0 * np.log(levels)), [process.t_min]])


def uniform_times(process, n: int) -> np.ndarray:
    """``t_k = T − k (T − t_min)/n``."""
    n = check_int_range("n", n, 1, MAX_STEPS)
    return _finish(process, np.linspace(process.horizon, process.t_min, n + 1), "uniform")


def logsnr_times(process, n: int) -> np.ndarray:
    """Uniform in λ = −2 ln σ̃ (module docstring for the data end)."""
    n = check_int_range("n", n, 1, MAX_STEPS)
    times = _noise_levels(process, n, lambda hi, lo, m: np.exp(np.linspace(np.log(hi), np.log(lo), m + 1)))
    return _finish(process, times, "logsnr")


def karras_times(process, n: int, rho: float = KARRAS_RHO) -> np.ndarray:
    """EDM spacing of σ̃ with exponent ``rho`` (module docstring)."""
    n = check_int_range("n", n, 1, MAX_STEPS)
    rho = check_positive("rho", rho)

    def spacing(hi, lo, m):
        ramp = np.arange(m + 1) / m
        return ((1.0 - ramp) * hi ** (1 / rho) + ramp * lo ** (1 / rho)) ** rho

    return _finish(process, _noise_levels(process, n, spacing), "karras")


def mixture_stability_times(process, n: int, mixture, ou) -> np.ndarray:
    """Paper 2's stability grid of ``mixture`` under the OU process ``ou`` (:func:`~distillplan.mixture.
    stability_grid`), each interior time moved to the model's time of equal log-SNR (clipped to its range)."""
    from ..mixture import stability_grid

    n = check_int_range("n", n, 1, MAX_STEPS)
    grid = stability_grid(mixture, ou, n).times
    interior = process.time_of_log_snr(np.clip(ou.log_snr(grid[1:-1]), float(process.log_snr(process.horizon)),
                                               float(process.log_snr(process.t_min))))
    return _finish(process, np.concatenate([[process.horizon], np.atleast_1d(interior), [process.t_min]]),
                   "mixture-stability")


def calibrated_times(calibration, n: int) -> np.ndarray:
    """The n-segment grid balancing ``calibration``'s measured Â (equal shares ``A_total/n``)."""
    from ..calibrate.stability import balanced_grid

    n = check_int_range("n", n, 1, MAX_STEPS)
    return np.asarray(balanced_grid(calibration.curve, n).times, dtype=np.float64)


def _euler_from(field, x: torch.Tensor, t_from: float, targets: np.ndarray) -> torch.Tensor:
    """Euler jumps of the batch ``x`` from ``t_from`` to every time of ``targets``: ``(J, N, *shape)``."""
    proc = field.process
    a0, s0 = float(proc.alpha(t_from)), float(proc.sigma(t_from))
    with torch.no_grad():
        eps = epsilon(field, x, t_from)
    xt = x / a0
    alpha = torch.as_tensor(proc.alpha(targets), dtype=x.dtype, device=x.device)
    st = torch.as_tensor(proc.kdiffusion_sigma(targets), dtype=x.dtype, device=x.device)
    view = (-1,) + (1,) * x.dim()
    return (xt[None] + (st.view(view) - s0 / a0) * eps[None]) * alpha.view(view)


def _check_fine(field, fine_times, fine_states) -> tuple[np.ndarray, torch.Tensor]:
    times = np.asarray(fine_times, dtype=np.float64)
    if times.ndim != 1 or times.size < 2 or not np.all(np.diff(times) < 0):
        raise DistillPlanError("fine_times", "must be at least 2 strictly decreasing process times")
    field.process.check_times(times, "fine_times")
    if not isinstance(fine_states, torch.Tensor) or fine_states.dim() < 2 or fine_states.shape[1] != times.size:
        raise DistillPlanError("fine_states", f"must be a tensor (N, {times.size}, *shape) of teacher states at the "
                                              f"fine times")
    return times, fine_states


def jump_costs(field, fine_times, fine_states) -> np.ndarray:
    """GITS-style cost matrix ``C[i, j]`` (i < j): mean over the batch of ‖Euler jump(x_i → t_j) − x_j‖₂
    (one model evaluation per fine point i)."""
    times, states = _check_fine(field, fine_times, fine_states)
    P = times.size
    cost = np.zeros((P, P))
    for i in range(P - 1):
        jumped = _euler_from(field, states[:, i], float(times[i]), times[i + 1:])  # (J, N, ...)
        diff = (jumped - states[:, i + 1:].transpose(0, 1)).flatten(2)
        cost[i, i + 1:] = diff.norm(dim=2).mean(dim=1).double().cpu().numpy()
    return cost


def gits_times(field, n: int, fine_times, fine_states, coefficient: float = GITS_COEFFICIENT,
               costs=None) -> np.ndarray:
    """GITS-style schedule: (1) of :mod:`.dp` on :func:`jump_costs`; the fine time of every chosen index.
    ``costs``: that matrix when already computed (it does not depend on n)."""
    times, _ = _check_fine(field, fine_times, fine_states)
    if costs is None:
        costs = jump_costs(field, fine_times, fine_states)
    path, _ = gits_steps(costs, n, coefficient)
    return times[path]


def oss_times(field, n: int, fine_times, fine_states) -> np.ndarray:
    """OptimalSteps-style schedule: (2) of :mod:`.dp` with batch-mean squared error (at most n·P model
    evaluations on the batch)."""
    times, states = _check_fine(field, fine_times, fine_states)
    teacher = [states[:, j] for j in range(times.size)]

    def jumps(state, i, targets):
        return list(_euler_from(field, state, float(times[i]), times[targets]))

    def error(state, j):
        return float(((state - teacher[j]) ** 2).mean())

    path, _ = optimal_steps(teacher, n, jumps, error)
    return times[path]


def make_schedule_times(name: str, n: int, *, process, field=None, mixture=None, calibration=None,
                        fine_times=None, fine_states=None, coefficient: float = GITS_COEFFICIENT,
                        costs=None) -> np.ndarray:
    """The ``n``-step grid of schedule ``name`` (:data:`SCHEDULES`) in ``process`` time.

    Inputs by schedule: ``mixture = (IsotropicMixture, OUProcess)`` for ``mixture-stability``; a
    :class:`~distillplan.calibrate.Calibration` (of the matching profile) for ``calibrated`` and
    ``acceleration``; ``field``, ``fine_times`` (P,) and teacher ``fine_states`` (N, P, *shape) for ``gits``
    (and its ``coefficient``, and optionally its precomputed ``costs``) and ``oss``.
    """
    if name not in SCHEDULES:
        raise DistillPlanError("schedule", f"unknown schedule {name!r}; choose from {list(SCHEDULES)}")
    if name == "uniform":
        return uniform_times(process, n)
    if name == "logsnr":
        return logsnr_times(process, n)
    if name == "karras":
        return karras_times(process, n)
    if name == "mixture-stability":
        if mixture is None:
            raise DistillPlanError("mixture", "the mixture-stability schedule needs a fitted (mixture, OU process)")
        return mixture_stability_times(process, n, *mixture)
    if name in ("calibrated", "acceleration"):
        if calibration is None:
            raise DistillPlanError("calibration", f"the {name} schedule needs a calibration of the model")
        return calibrated_times(calibration, n)
    if field is None or fine_times is None or fine_states is None:
        raise DistillPlanError("field", f"the {name} schedule needs the field and its fine teacher states")
    if name == "gits":
        return gits_times(field, n, fine_times, fine_states, coefficient, costs)
    return oss_times(field, n, fine_times, fine_states)
