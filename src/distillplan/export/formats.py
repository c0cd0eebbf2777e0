"""Exports of time grids and plan boundaries to the samplers users run.

Every grid is first expressed as the signal level α along the sampling path (noise → data) of the
variance-preserving process with the same SNR (α² + σ² = 1). A grid of N steps has N + 1 points; its
data-side end is either clean data (α = 1, σ/α = 0: OU grids, VP indices, α lists) or, for a grid in a
noise process's own time (:func:`from_process_grid`), the process's data-side end ``t_min`` where
σ_min = σ/α may be > 0 (EDM's 0.002, or a DDPM model's first training step). From there:

* **diffusers** ``timesteps=`` — N integer training steps, descending, one per sampler step; the data-side
  end is never a timestep. For a grid in a :class:`~distillplan.models.DiscreteVP` process's time they are
  the rounded grid values; otherwise each point maps to the step of a discrete training table (default
  DDPM linear-β, N = 1000) whose √ᾱ_k is nearest in log-SNR. For ``DDPMScheduler``,
  ``EulerDiscreteScheduler``, ``DPMSolverMultistepScheduler``, ``LCMScheduler``, ``TCDScheduler``,
  ``HeunDiscreteScheduler`` (``set_timesteps(timesteps=...)``). ``DDIMScheduler`` assumes a uniform
  stride: use :func:`ddim_sample` for a non-uniform grid.
* **diffusers** ``sigmas=`` — N + 1 values σ/α, for ``EulerDiscreteScheduler`` (``set_timesteps(sigmas=...)``).
* **k-diffusion / ComfyUI** — the same descending σ/α list.
* **flow matching** — rectified-flow times in [0, 1] (x_t = (1 − t)·x_0 + t·ε) with the same SNR:
  t = σ/(α + σ), descending.
* **JSON** — all of the above with the conventions written in the document.

**Terminal.** Every exporter takes ``terminal``: ``"zero"`` (the default) ends the σ/α and flow-time lists
in 0 — the last sampler step goes straight to clean data, the sampler returning its x̂_0 there, which is
what diffusers' Euler ``sigmas=`` and k-diffusion expect; ``"sigma_min"`` ends them at the grid's σ_min
(flow time σ_min/(1 + σ_min)) instead, for samplers that break on a trailing 0. Either way the lists hold
N + 1 values and the sampler takes N steps: ``"zero"`` replaces the data-side end σ_min by 0, it does not
add a step. ``"sigma_min"`` needs σ_min > 0. ``timesteps=`` never include the data-side end, so the
terminal does not change them.

The OU-time grids of paper 2 map through α_t = e^{−βt}; discrete teacher indices of a VP schedule
(a merge plan's boundaries) through the schedule's α array.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DistillPlanError, check_choice, check_finite_array, check_int_range, check_range
from ..mixture.model import BETA_HORIZON_RANGE, BETA_RANGE
from ..schedules import VPSchedule

__all__ = [
    "SamplingPath", "from_ou_grid", "from_vp_indices", "from_alphas", "from_process_grid", "plan_boundaries",
    "training_alphas_bar", "diffusers_timesteps", "diffusers_sigmas", "kdiffusion_sigmas", "flow_matching_times",
    "export_document", "export_convention", "ddim_sample", "dumps", "TARGETS", "TERMINALS", "EXPORT_KEYS",
    "BETA_SCHEDULES", "MAX_GRID_POINTS", "MAX_TRAIN_STEPS",
]

TARGETS = ("diffusers-timesteps", "diffusers-sigmas", "k-diffusion", "flow-matching", "json")
TERMINALS = ("zero", "sigma_min")
"""How exported σ/α and flow-time lists end: in 0, or at the grid's data-side σ_min > 0 (module docstring)."""
EXPORT_KEYS = {"diffusers-timesteps": "diffusers_timesteps", "diffusers-sigmas": "diffusers_sigmas",
               "k-diffusion": "k_diffusion_sigmas", "flow-matching": "flow_matching_times"}
"""Each list target and its key in a JSON document or a card's ``exports``."""
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
MAX_GRID_POINTS = 10_000
"""Most points of one exported grid."""
MAX_TRAIN_STEPS = 100_000
"""Most discrete training steps N of a model's schedule (diffusers models use 1000)."""


@dataclass(frozen=True)
class SamplingPath:
    """VP signal levels α_0 < … < α_n along a sampling grid (noise → data), with the source grid.

    ``noise`` holds the matching σ = √(1 − α²) when it is known more precisely than that formula
    gives it near α = 1 (paths from :func:`from_process_grid`). A path without a ``process`` ends in
    clean data, α_n = 1; a path with one ends at the process's data-side end ``t_min``, where
    ``sigma_min`` = σ_n/α_n may be > 0.
    """

    alphas: np.ndarray
    source: Any
    source_times: tuple
    noise: np.ndarray | None = None
    process: Any = None

    def __post_init__(self) -> None:
        a = check_finite_array("grid", self.alphas)
        if a.size < 2:
            raise DistillPlanError("grid", "needs at least 2 points (1 step)")
        if np.any(a < 0) or np.any(a > 1):
            raise DistillPlanError("grid", "signal levels must lie in [0, 1]")
        if not np.all(np.diff(a) > 0):
            raise DistillPlanError("grid", "must be strictly decreasing in time (strictly increasing signal toward "
                                           "the data); two points may also be closer than float64 resolves")
        if self.noise is not None:
            s = check_finite_array("grid", self.noise)
            if s.shape != a.shape or np.any(s < 0) or np.any(np.abs(a**2 + s**2 - 1.0) > 1e-9):
                raise DistillPlanError("grid", "noise levels must match the signal levels (alpha^2 + sigma^2 = 1)")
        if self.process is None and a[-1] != 1.0:
            raise DistillPlanError("grid", f"must end at the data (t = 0, alpha = 1), got alpha = {float(a[-1])!r}")

    @property
    def steps(self) -> int:
        return self.alphas.size - 1

    @property
    def sigmas(self) -> np.ndarray:
        """VP noise levels σ = √(1 − α²) (a copy)."""
        if self.noise is not None:
            return np.array(self.noise, dtype=np.float64)
        return np.sqrt(np.clip(1.0 - self.alphas**2, 0.0, 1.0))

    @property
    def sigma_min(self) -> float:
        """σ/α at the data-side end: 0 for a path ending in clean data."""
        return float(self.sigmas[-1] / self.alphas[-1])


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


def from_process_grid(times, process) -> SamplingPath:
    """A grid in a noise process's own time (noise side → data side, ending at ``process.t_min``).

    Signal levels are those of the VP process with the same SNR, α = ``process.vp_alpha(t)`` =
    α_p/√(α_p² + σ_p²), with σ = σ_p/√(α_p² + σ_p²) kept alongside, so σ/α = σ_p/α_p exactly as the
    process gives it; the path's ``sigma_min`` is σ_p/α_p at ``t_min`` (0 where the process reaches
    clean data there). The source is ``process.config()``. A last point within 1e-9 of the span from
    ``t_min`` is taken as ``t_min``.
    """
    for attr in ("alpha", "sigma", "vp_alpha", "config", "t_min", "horizon"):
        if not hasattr(process, attr):
            raise DistillPlanError("process", f"must be a noise process (distillplan.models), got {type(process).__name__}")
    t = check_finite_array("grid", times)
    if t.size < 2:
        raise DistillPlanError("grid", "needs at least 2 points (1 step)")
    if t.size > MAX_GRID_POINTS:
        raise DistillPlanError("grid", f"at most {MAX_GRID_POINTS} points, got {t.size}")
    if not np.all(np.diff(t) < 0):
        raise DistillPlanError("grid", "must be strictly decreasing (noise side -> data side)")
    t_min, horizon = float(process.t_min), float(process.horizon)
    if abs(t[-1] - t_min) > 1e-9 * (horizon - t_min):
        raise DistillPlanError("grid", f"must end at the {process.name} process's data-side end t_min = {t_min!r}, "
                                       f"got {float(t[-1])!r}")
    if t[0] > horizon:
        raise DistillPlanError("grid", f"must start at or below the {process.name} process's horizon {horizon!r}, "
                                       f"got {float(t[0])!r}")
    t = t.copy()
    t[-1] = t_min
    a, s = np.asarray(process.alpha(t), dtype=np.float64), np.asarray(process.sigma(t), dtype=np.float64)
    return SamplingPath(np.asarray(process.vp_alpha(t), dtype=np.float64), process.config(), tuple(t.tolist()),
                        noise=s / np.hypot(a, s), process=process)


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


def _path_log_snr(path: SamplingPath) -> np.ndarray:
    """λ = 2 ln(α/σ) at every point but the data-side end."""
    if path.noise is None:
        return _log_snr(path.alphas[:-1])
    with np.errstate(divide="ignore"):
        return 2 * (np.log(path.alphas[:-1]) - np.log(path.noise[:-1]))


def _is_discrete_vp(process) -> bool:
    return getattr(process, "name", None) == "discrete-vp" and hasattr(process, "alphas_bar")


def _check_terminal(path: SamplingPath, terminal: str) -> str:
    check_choice("terminal", terminal, TERMINALS)
    if terminal == "sigma_min" and path.sigma_min == 0:
        raise DistillPlanError("terminal", "'sigma_min' ends the lists at the grid's data-side sigma_min > 0, but this "
                                           "grid ends in clean data (sigma = 0); use 'zero', or a grid in a noise "
                                           "process's time that ends at its t_min")
    return terminal


def diffusers_timesteps(path: SamplingPath, alphas_bar=None, terminal: str = "zero") -> list[int]:
    """N integer training steps (descending), one per sampler step; the data-side end is never a timestep.

    ``alphas_bar``: the model's ᾱ table (an array, or a ``DiscreteVP`` process); default the path's own
    process when it is a ``DiscreteVP``, else DDPM linear-β with N = 1000. A grid in the table's own
    training-step time gives its rounded values; two of them on the same step raise under ``grid``.
    Otherwise each point maps to the step nearest in log-SNR; two points on the same step (the discrete
    model cannot represent the grid) raise under ``target``. ``terminal`` is checked but changes nothing.
    """
    check_choice("terminal", terminal, TERMINALS)
    if _is_discrete_vp(alphas_bar):
        alphas_bar = alphas_bar.alphas_bar
    own = path.process.alphas_bar if _is_discrete_vp(path.process) else None
    if own is not None and (alphas_bar is None or np.array_equal(np.asarray(alphas_bar, dtype=np.float64), own)):
        k = np.round(np.asarray(path.source_times[:-1], dtype=np.float64))
        same = k[:-1][np.diff(k) >= 0]
        if same.size:
            raise DistillPlanError("grid", f"two grid points round to the same training step {int(same[0])}; a grid in "
                                           "training-step time needs its points at least one step apart")
        return [int(x) for x in k]
    ab = training_alphas_bar() if alphas_bar is None else check_finite_array("alphas_bar", alphas_bar, positive=True)
    train = _log_snr(np.sqrt(ab))  # decreasing in k
    want = _path_log_snr(path)
    want = np.clip(want, train[-1] - 0.0, np.inf)  # pure noise (α = 0) maps to the last step
    k = np.searchsorted(-train, -want)  # first k with train[k] <= want
    k = np.clip(k, 0, ab.size - 1)
    prev = np.clip(k - 1, 0, ab.size - 1)
    k = np.where(np.abs(train[prev] - want) < np.abs(train[k] - want), prev, k)
    if np.any(np.diff(k) >= 0):
        raise DistillPlanError("target", "diffusers-timesteps cannot represent this grid: two points fall on the same "
                                         f"of the {ab.size} training steps; use diffusers-sigmas or the custom sampler")
    return [int(x) for x in k]


def diffusers_sigmas(path: SamplingPath, terminal: str = "zero") -> list[float]:
    """σ/α at every grid point (N + 1 values, descending, ending per ``terminal``) for Euler-type schedulers."""
    return kdiffusion_sigmas(path, terminal)


def kdiffusion_sigmas(path: SamplingPath, terminal: str = "zero") -> list[float]:
    """k-diffusion / ComfyUI sigmas σ_t/α_t, descending, N + 1 values ending in 0 (``terminal="zero"``)
    or in the grid's σ_min (``"sigma_min"``)."""
    terminal = _check_terminal(path, terminal)
    a = path.alphas
    if a[0] == 0:
        raise DistillPlanError("target", "sigma = sigma_t/alpha_t is infinite at pure noise (alpha = 0); "
                                         "start the grid slightly before the horizon or use flow-matching")
    s = path.sigmas / a
    s[-1] = 0.0 if terminal == "zero" else path.sigma_min
    return _descending(s)


def flow_matching_times(path: SamplingPath, terminal: str = "zero") -> list[float]:
    """Rectified-flow times t = σ/(α + σ) in [0, 1] (same SNR as each grid point), N + 1 values descending
    to 0 (``terminal="zero"``) or to σ_min/(1 + σ_min) (``"sigma_min"``)."""
    terminal = _check_terminal(path, terminal)
    s = path.sigmas
    t = s / (path.alphas + s)
    sm = path.sigma_min
    t[-1] = 0.0 if terminal == "zero" else sm / (1.0 + sm)
    return _descending(t)


def _descending(values: np.ndarray) -> list[float]:
    if not np.all(np.diff(values) < 0):
        raise DistillPlanError("grid", "two points are closer than float64 resolves after conversion")
    return [float(x) for x in values]


def export_convention(key: str, terminal: str = "zero") -> str:
    """The one-line convention of an export (``key`` as in :data:`EXPORT_KEYS`) for ``terminal``."""
    end = "ending in 0" if terminal == "zero" else "ending at the grid's sigma_min (no trailing 0)"
    lines = {
        "diffusers_timesteps": "integer training steps (descending) of a discrete VP training table, one per "
                               "sampler step, the data-side end excluded: the rounded grid for a grid in the "
                               "table's own time, else nearest in log-SNR; pass as "
                               "scheduler.set_timesteps(timesteps=...)",
        "diffusers_sigmas": f"sigma/alpha, N + 1 values descending, {end}; pass as "
                            "EulerDiscreteScheduler.set_timesteps(sigmas=...)",
        "k_diffusion_sigmas": f"sigma/alpha, N + 1 values descending, {end} (k-diffusion / ComfyUI SIGMAS)",
        "flow_matching_times": "rectified-flow time t = sigma/(alpha+sigma), x_t = (1-t) x0 + t eps, N + 1 values "
                               + ("descending, ending in 0" if terminal == "zero" else
                                  "descending, ending at sigma_min/(1+sigma_min)")
                               + "; FlowMatchEulerDiscreteScheduler(shift=1).set_timesteps(sigmas=values[:-1]) "
                                 "appends its own 0",
    }
    return lines[key]


def export_document(path: SamplingPath, alphas_bar=None, terminal: str = "zero") -> dict:
    """Every export that can represent ``path``, with the conventions written in the document."""
    _check_terminal(path, terminal)
    doc: dict = {
        "source": path.source, "source_grid": list(path.source_times), "steps": path.steps,
        "terminal": {"kind": terminal, "sigma_min": path.sigma_min},
        "conventions": {
            "alphas": "signal level alpha along the sampling path, noise -> data, VP (alpha^2 + sigma^2 = 1)",
            **{key: export_convention(key, terminal) for key in EXPORT_KEYS.values()},
        },
        "alphas": [float(x) for x in path.alphas],
    }
    for key, fn in (("diffusers_timesteps", lambda: diffusers_timesteps(path, alphas_bar, terminal)),
                    ("diffusers_sigmas", lambda: diffusers_sigmas(path, terminal)),
                    ("k_diffusion_sigmas", lambda: kdiffusion_sigmas(path, terminal)),
                    ("flow_matching_times", lambda: flow_matching_times(path, terminal))):
        try:
            doc[key] = fn()
        except DistillPlanError as exc:
            doc[key] = None
            doc.setdefault("not_representable", {})[key] = str(exc)
    return doc


def ddim_sample(denoise, x, alphas, predicts: str = "epsilon"):
    """Deterministic DDIM over an arbitrary (non-uniform) grid of signal levels.

    ``denoise(x, alpha)`` returns the model's ε̂ (``predicts='epsilon'``) or x̂_0 (``'x0'``) at
    signal level ``alpha``; ``alphas`` increase from the noise end to the data-side end (a
    :class:`SamplingPath`'s ``alphas``: 1, or below 1 for a path ending at σ_min > 0). Each step: x̂_0 and ε̂ from the prediction, then x ← α' x̂_0 + σ' ε̂. Works on numpy
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
