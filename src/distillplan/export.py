"""Exports of time grids and plan boundaries to the samplers users run.

Every grid is first expressed as the signal level α along the sampling path (noise → data,
VP convention α² + σ² = 1, ending in clean data α = 1). From there:

* **diffusers** ``timesteps=`` — integer training steps, descending, for a VP model trained on a
  discrete N-step schedule (default DDPM linear-β, N = 1000): each grid point maps to the step whose
  √ᾱ_k is nearest in log-SNR; the final data point is not a timestep. For ``DDPMScheduler``,
  ``EulerDiscreteScheduler``, ``DPMSolverMultistepScheduler``, ``LCMScheduler``, ``TCDScheduler``,
  ``HeunDiscreteScheduler`` (``set_timesteps(timesteps=...)``). ``DDIMScheduler`` assumes a uniform
  stride: use :func:`ddim_sample` for a non-uniform grid.
* **diffusers** ``sigmas=`` — N + 1 values σ/α with a trailing 0, for ``EulerDiscreteScheduler``
  (``set_timesteps(sigmas=...)``).
* **k-diffusion / ComfyUI** — the same descending σ/α tensor with a trailing 0.
* **flow matching** — rectified-flow times in [0, 1] (x_t = (1 − t)·x_0 + t·ε) with the same SNR:
  t = σ/(α + σ), descending from 1 to 0.
* **JSON** — all of the above with the conventions written in the document.

The OU-time grids of paper 2 map through α_t = e^{−βt}; discrete teacher indices of a VP schedule
(a merge plan's boundaries) through the schedule's α array.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from .errors import DistillPlanError, check_finite_array, check_int_range, check_range
from .mixture.model import BETA_HORIZON_RANGE, BETA_RANGE
from .schedules import VPSchedule

__all__ = [
    "SamplingPath", "from_ou_grid", "from_vp_indices", "from_alphas", "plan_boundaries", "training_alphas_bar",
    "diffusers_timesteps", "diffusers_sigmas", "kdiffusion_sigmas", "flow_matching_times", "export_document",
    "ddim_sample", "TARGETS", "BETA_SCHEDULES", "MAX_GRID_POINTS", "MAX_TRAIN_STEPS",
]

TARGETS = ("diffusers-timesteps", "diffusers-sigmas", "k-diffusion", "flow-matching", "json")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
MAX_GRID_POINTS = 10_000
"""Most points of one exported grid."""
MAX_TRAIN_STEPS = 100_000
"""Most discrete training steps N of a model's schedule (diffusers models use 1000)."""


@dataclass(frozen=True)
class SamplingPath:
    """Signal levels α_0 < … < α_n = 1 along a sampling grid (noise → data), with the source grid."""

    alphas: np.ndarray
    source: str
    source_times: tuple

    def __post_init__(self) -> None:
        a = check_finite_array("grid", self.alphas)
        if a.size < 2:
            raise DistillPlanError("grid", "needs at least 2 points (1 step)")
        if np.any(a < 0) or np.any(a > 1):
            raise DistillPlanError("grid", "signal levels must lie in [0, 1]")
        if not np.all(np.diff(a) > 0):
            raise DistillPlanError("grid", "must be strictly decreasing in time (strictly increasing signal toward "
                                           "the data); two points may also be closer than float64 resolves")
        if a[-1] != 1.0:
            raise DistillPlanError("grid", f"must end at the data (t = 0, alpha = 1), got alpha = {float(a[-1])!r}")

    @property
    def steps(self) -> int:
        return self.alphas.size - 1

    @property
    def sigmas(self) -> np.ndarray:
        return np.sqrt(np.clip(1.0 - self.alphas**2, 0.0, 1.0))


def from_ou_grid(times, beta: float) -> SamplingPath:
    """OU time grid (decreasing, ending at 0) → α_t = e^{−βt}; β in BETA_RANGE and β·t_0 at most 300
    (the OU process's bound on β·T, beyond which α underflows)."""
    beta = check_range("beta", beta, *BETA_RANGE)
    t = _decreasing("grid", times)
    if beta * t[0] > BETA_HORIZON_RANGE[1]:
        raise DistillPlanError("grid", f"beta * t_0 = {beta * t[0]:g} exceeds {BETA_HORIZON_RANGE[1]:g}: the signal "
                                       "level alpha = exp(-beta t) at the noise end underflows")
    return SamplingPath(np.exp(-beta * t), f"ou(beta={beta:g})", tuple(t.tolist()))


def from_vp_indices(indices, schedule: VPSchedule) -> SamplingPath:
    """Discrete teacher indices t (decreasing, ending at 0) of a VP schedule → α_t."""
    idx = _decreasing("grid", indices)
    if np.any(idx != np.round(idx)) or idx[0] > schedule.steps:
        raise DistillPlanError("grid", f"indices must be integers in [0, {schedule.steps}]")
    return SamplingPath(schedule.alphas[idx.astype(int)], f"vp-{schedule.name}(T={schedule.steps})",
                        tuple(int(i) for i in idx))


def from_alphas(alphas) -> SamplingPath:
    """Signal levels given directly (increasing toward the data, ending at 1)."""
    a = check_finite_array("grid", alphas)
    return SamplingPath(a, "alphas", tuple(a.tolist()))


def plan_boundaries(plan) -> list[int]:
    """Teacher indices at the boundaries of a plan's top-level children: T, …, 0 (the student's steps)."""
    out = [plan.start]
    for c in plan.children:
        out.append(c - 1 if isinstance(c, int) else c.end)
    return out


def _decreasing(name: str, values) -> np.ndarray:
    v = check_finite_array(name, values)
    if v.size < 2:
        raise DistillPlanError(name, "needs at least 2 points")
    if not np.all(np.diff(v) < 0):
        raise DistillPlanError(name, "must be strictly decreasing (noise → data)")
    if v[-1] != 0:
        raise DistillPlanError(name, f"must end at 0 (the data), got {v[-1]!r}")
    return v


def training_alphas_bar(train_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                        beta_schedule: str = "linear") -> np.ndarray:
    """ᾱ_k, k = 0..N−1, of a discrete training schedule (diffusers' conventions: ``linear``,
    ``scaled_linear`` (Stable Diffusion), ``squaredcos_cap_v2``); N in ``2..MAX_TRAIN_STEPS``."""
    N = check_int_range("train_steps", train_steps, 2, MAX_TRAIN_STEPS)
    if beta_schedule == "linear":
        betas = np.linspace(beta_start, beta_end, N)
    elif beta_schedule == "scaled_linear":
        betas = np.linspace(beta_start**0.5, beta_end**0.5, N) ** 2
    elif beta_schedule == "squaredcos_cap_v2":
        f = lambda u: np.cos((u + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
        k = np.arange(N)
        betas = np.minimum(1 - f((k + 1) / N) / f(k / N), 0.999)
    else:
        raise DistillPlanError("beta_schedule", f"unknown {beta_schedule!r}; choose from {list(BETA_SCHEDULES)}")
    return np.cumprod(1.0 - betas)


def _log_snr(alpha: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 2 * np.log(alpha) - np.log1p(-np.minimum(alpha**2, 1.0))


def diffusers_timesteps(path: SamplingPath, alphas_bar: np.ndarray | None = None) -> list[int]:
    """Integer training steps (descending) nearest in log-SNR to every grid point but the final data point.

    Raises if two grid points land on the same training step (the discrete model cannot represent
    the grid) or if a grid point is far outside the training schedule's noise range.
    """
    ab = training_alphas_bar() if alphas_bar is None else np.asarray(alphas_bar, dtype=np.float64)
    train = _log_snr(np.sqrt(ab))  # decreasing in k
    want = _log_snr(path.alphas[:-1])
    want = np.clip(want, train[-1] - 0.0, np.inf)  # pure noise (α = 0) maps to the last step
    k = np.searchsorted(-train, -want)  # first k with train[k] <= want
    k = np.clip(k, 0, ab.size - 1)
    prev = np.clip(k - 1, 0, ab.size - 1)
    k = np.where(np.abs(train[prev] - want) < np.abs(train[k] - want), prev, k)
    if np.any(np.diff(k) >= 0):
        raise DistillPlanError("target", "diffusers-timesteps cannot represent this grid: two points fall on the same "
                                         f"of the {ab.size} training steps; use diffusers-sigmas or the custom sampler")
    return [int(x) for x in k]


def diffusers_sigmas(path: SamplingPath) -> list[float]:
    """σ/α at every grid point (N + 1 values, trailing 0) for Euler-type schedulers."""
    return kdiffusion_sigmas(path)


def kdiffusion_sigmas(path: SamplingPath) -> list[float]:
    """k-diffusion / ComfyUI sigmas σ_t/α_t, descending, with a trailing 0."""
    a = path.alphas
    if a[0] == 0:
        raise DistillPlanError("target", "sigma = sigma_t/alpha_t is infinite at pure noise (alpha = 0); "
                                         "start the grid slightly before the horizon or use flow-matching")
    s = path.sigmas / a
    s[-1] = 0.0
    return [float(x) for x in s]


def flow_matching_times(path: SamplingPath) -> list[float]:
    """Rectified-flow times t = σ/(α + σ) in [0, 1], descending to 0 (same SNR as each grid point)."""
    s = path.sigmas
    t = s / (path.alphas + s)
    t[-1] = 0.0
    return [float(x) for x in t]


def export_document(path: SamplingPath, alphas_bar: np.ndarray | None = None) -> dict:
    """Every export that can represent ``path``, with the conventions written in the document."""
    doc: dict = {
        "source": path.source, "source_grid": list(path.source_times), "steps": path.steps,
        "conventions": {
            "alphas": "signal level alpha along the sampling path, noise -> data, VP (alpha^2 + sigma^2 = 1)",
            "diffusers_timesteps": "integer training steps (descending) of a discrete VP schedule, nearest in "
                                   "log-SNR; pass as scheduler.set_timesteps(timesteps=...)",
            "diffusers_sigmas": "sigma/alpha with a trailing 0; pass as EulerDiscreteScheduler.set_timesteps(sigmas=...)",
            "k_diffusion_sigmas": "sigma/alpha, descending, trailing 0 (k-diffusion / ComfyUI SIGMAS)",
            "flow_matching_times": "rectified-flow time t = sigma/(alpha+sigma), x_t = (1-t) x0 + t eps, descending",
        },
        "alphas": [float(x) for x in path.alphas],
    }
    for key, fn in (("diffusers_timesteps", lambda: diffusers_timesteps(path, alphas_bar)),
                    ("diffusers_sigmas", lambda: diffusers_sigmas(path)),
                    ("k_diffusion_sigmas", lambda: kdiffusion_sigmas(path)),
                    ("flow_matching_times", lambda: flow_matching_times(path))):
        try:
            doc[key] = fn()
        except DistillPlanError as exc:
            doc[key] = None
            doc.setdefault("not_representable", {})[key] = str(exc)
    return doc


def ddim_sample(denoise, x, alphas, predicts: str = "epsilon"):
    """Deterministic DDIM over an arbitrary (non-uniform) grid of signal levels.

    ``denoise(x, alpha)`` returns the model's ε̂ (``predicts='epsilon'``) or x̂_0 (``'x0'``) at
    signal level ``alpha``; ``alphas`` increase from the noise end to 1 (a :class:`SamplingPath`'s
    ``alphas``). Each step: x̂_0 and ε̂ from the prediction, then x ← α' x̂_0 + σ' ε̂. Works on numpy
    arrays and torch tensors alike.
    """
    if predicts not in ("epsilon", "x0"):
        raise DistillPlanError("predicts", f"must be 'epsilon' or 'x0', got {predicts!r}")
    a = np.asarray(alphas, dtype=np.float64)
    for a_now, a_next in zip(a[:-1], a[1:]):
        s_now, s_next = float(np.sqrt(1 - a_now**2)), float(np.sqrt(1 - a_next**2))
        out = denoise(x, float(a_now))
        if predicts == "epsilon":
            eps = out
            x0 = (x - s_now * eps) / a_now
        else:
            x0 = out
            eps = (x - a_now * x0) / s_now
        x = a_next * x0 + s_next * eps
    return x


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2)
