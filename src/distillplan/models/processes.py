"""Noise processes ``x_t = α(t) x_0 + σ(t) ε`` in each process's own time, and their probability-flow ODE.

**Time convention** (every process): ``t`` runs from the data side ``t_min`` to the noise side ``horizon``;
a sampler integrates from ``t = horizon`` down to ``t = t_min``. Grids, profiles and exports are stated in
this time, and the card names the process so a user can convert.

**Probability flow.** Differentiating ``x = α x_0 + σ ε`` along a conditional path and replacing ε by its
posterior mean ε̂(x, t) = E[ε | x_t = x] gives the probability-flow velocity

    v(x, t) = dx/dt = a(t) x + b(t) ε̂(x, t),      a = α'/α,   b = σ' − σ α'/α,                 (1)

which for VP (α² + σ² = 1) is the familiar ``f x − ½ g² ∇log p``, since ∇log p_t = −ε̂/σ. Processes:

* :class:`DiscreteVP` — a diffusers β table (``linear``, ``scaled_linear``, ``squaredcos_cap_v2``): ᾱ_k for
  training steps k = 0..N−1; t is the (fractional) training step, log ᾱ is a monotone cubic (PCHIP) in t.
* :class:`CosineVP` — continuous VP, ᾱ(t) = f(t)/f(0), f(t) = cos²(π/2 · (t + s)/(1 + s)), t ∈ (0, 1).
* :class:`OUVP` — the OU process of paper 2: α = e^{−βt}, σ² = 1 − e^{−2βt}.
* :class:`EDM` — variance exploding in EDM's convention: α = 1, σ(t) = t.
* :class:`RectifiedFlow` — α = 1 − t, σ = t, t ∈ [0, 1].

All coefficient functions take and return float64 numpy (scalars stay scalars).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..errors import DistillPlanError, check_finite_array, check_int_range, check_range

__all__ = ["NoiseProcess", "DiscreteVP", "CosineVP", "OUVP", "EDM", "RectifiedFlow", "PROCESSES",
           "BETA_SCHEDULES", "DEFAULT_SIGMA_MIN", "make_process"]

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
DEFAULT_SIGMA_MIN = 0.002
"""EDM's σ_min: the default data-side end σ/α of the continuous processes whose PF velocity is singular at σ = 0."""
_BISECTIONS = 200


class NoiseProcess(ABC):
    """``x_t = α(t) x_0 + σ(t) ε`` on ``[t_min, horizon]`` (data side first); see the module docstring."""

    name: str
    t_min: float
    horizon: float

    @abstractmethod
    def alpha(self, t): ...

    @abstractmethod
    def sigma(self, t): ...

    @abstractmethod
    def dalpha(self, t):
        """dα/dt."""

    @abstractmethod
    def dsigma(self, t):
        """dσ/dt."""

    @abstractmethod
    def config(self) -> dict:
        """The process as a JSON-able dict (``{"process": name, ...}``); :func:`make_process` inverts it."""

    @property
    def variance_preserving(self) -> bool:
        """α² + σ² = 1 (the v-prediction parameterisation needs it)."""
        return False

    def pf_coefficients(self, t) -> tuple:
        """``(a, b)`` of (1): ``v = a x + b ε̂`` with ``a = α'/α``, ``b = σ' − σ α'/α``."""
        a = self.dalpha(t) / self.alpha(t)
        return a, self.dsigma(t) - self.sigma(t) * a

    def log_snr(self, t):
        """``λ(t) = 2 ln(α/σ)`` (decreasing in t)."""
        with np.errstate(divide="ignore"):
            return 2.0 * (np.log(self.alpha(t)) - np.log(self.sigma(t)))

    def kdiffusion_sigma(self, t):
        """``σ/α``: the noise level of the equivalent variance-exploding state ``x/α`` (k-diffusion's σ)."""
        with np.errstate(divide="ignore"):
            return self.sigma(t) / self.alpha(t)

    def vp_alpha(self, t):
        """``α/√(α² + σ²)``: the signal level of the variance-preserving process with the same SNR."""
        a, s = self.alpha(t), self.sigma(t)
        return a / np.hypot(a, s)

    def time_of_log_snr(self, lam):
        """Inverse of :meth:`log_snr` on ``[t_min, horizon]`` by vectorised bisection (λ is monotone)."""
        lam = check_finite_array("log_snr", lam, ndim=None)
        lo = np.full(lam.shape, float(self.t_min))
        hi = np.full(lam.shape, float(self.horizon))
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            above = self.log_snr(mid) > lam  # still on the data side of the target
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        out = 0.5 * (lo + hi)
        return float(out) if out.ndim == 0 else out

    def prior_std(self) -> float:
        """Standard deviation of the noise-side draw ``x_horizon``, assuming unit data variance:
        ``√(α_T² + σ_T²)`` (1 for VP and rectified flow, ≈ σ_max for EDM)."""
        return float(np.hypot(self.alpha(self.horizon), self.sigma(self.horizon)))

    def check_times(self, t, name: str = "t"):
        """Times as float64, each in ``[t_min, horizon]``."""
        arr = check_finite_array(name, t, ndim=None)
        if np.any(arr < self.t_min) or np.any(arr > self.horizon):
            raise DistillPlanError(name, f"times must lie in [{self.t_min:g}, {self.horizon:g}] for the {self.name} "
                                         f"process, got [{arr.min():g}, {arr.max():g}]")
        return float(arr) if arr.ndim == 0 else arr

    def _check_span(self) -> None:
        if not (np.isfinite(self.t_min) and np.isfinite(self.horizon) and self.t_min < self.horizon):
            raise DistillPlanError("horizon", f"the {self.name} process needs t_min < horizon, got "
                                              f"t_min = {self.t_min!r}, horizon = {self.horizon!r}")


@dataclass(frozen=True, eq=False)
class DiscreteVP(NoiseProcess):
    """A discrete VP training schedule ᾱ_k, k = 0..N−1 (diffusers); t ∈ [0, N−1] is the fractional training
    step, with log ᾱ(t) the monotone cubic (PCHIP) through the N values."""

    alphas_bar: np.ndarray
    label: str = "custom"
    name: str = field(default="discrete-vp", init=False)
    t_min: float = field(default=0.0, init=False)
    horizon: float = field(init=False)
    _log_ab: PchipInterpolator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ab = check_finite_array("alphas_bar", self.alphas_bar, positive=True)
        if ab.size < 2 or np.any(ab >= 1.0) or np.any(np.diff(ab) >= 0):
            raise DistillPlanError("alphas_bar", "must hold at least 2 values in (0, 1), strictly decreasing")
        ab = ab.copy()
        ab.setflags(write=False)
        object.__setattr__(self, "alphas_bar", ab)
        object.__setattr__(self, "horizon", float(ab.size - 1))
        object.__setattr__(self, "_log_ab", PchipInterpolator(np.arange(ab.size, dtype=np.float64), np.log(ab)))

    @classmethod
    def from_betas(cls, beta_schedule: str = "linear", beta_start: float = 1e-4, beta_end: float = 0.02,
                   train_steps: int = 1000) -> "DiscreteVP":
        """diffusers' β tables: ``linear``, ``scaled_linear`` (Stable Diffusion), ``squaredcos_cap_v2``."""
        N = check_int_range("train_steps", train_steps, 2, 100_000)
        if beta_schedule == "linear":
            betas = np.linspace(beta_start, beta_end, N)
        elif beta_schedule == "scaled_linear":
            betas = np.linspace(beta_start**0.5, beta_end**0.5, N) ** 2
        elif beta_schedule == "squaredcos_cap_v2":
            k = np.arange(N)
            f = np.cos((np.arange(N + 1) / N + 0.008) / 1.008 * np.pi / 2) ** 2
            betas = np.minimum(1 - f[k + 1] / f[k], 0.999)
        else:
            raise DistillPlanError("beta_schedule", f"unknown {beta_schedule!r}; choose from {list(BETA_SCHEDULES)}")
        if not (np.all(betas > 0) and np.all(betas < 1)):
            raise DistillPlanError("beta_schedule", "every β must lie in (0, 1)")
        label = f"{beta_schedule}(beta_start={beta_start:g}, beta_end={beta_end:g}, N={N})"
        return cls(np.cumprod(1.0 - betas), label)

    def _ab(self, t):
        return np.exp(self._log_ab(t))

    def alpha(self, t):
        return _like(t, np.sqrt(self._ab(t)))

    def sigma(self, t):
        return _like(t, np.sqrt(-np.expm1(self._log_ab(t))))

    def dalpha(self, t):
        return _like(t, 0.5 * np.sqrt(self._ab(t)) * self._log_ab(t, 1))

    def dsigma(self, t):
        ab = self._ab(t)
        return _like(t, -0.5 * ab * self._log_ab(t, 1) / np.sqrt(-np.expm1(self._log_ab(t))))

    @property
    def variance_preserving(self) -> bool:
        return True

    def config(self) -> dict:
        return {"process": "discrete-vp", "schedule": self.label, "train_steps": int(self.alphas_bar.size),
                "alphas_bar": [float(x) for x in self.alphas_bar]}


@dataclass(frozen=True, eq=False)
class CosineVP(NoiseProcess):
    """Continuous cosine VP (Nichol & Dhariwal): ᾱ(t) = f(t)/f(0), f(t) = cos²(π/2 · (t + s)/(1 + s)).

    σ = 0 at t = 0 and α = 0 at t = 1, where the PF velocity (1) is singular: the default ends are
    σ/α = :data:`DEFAULT_SIGMA_MIN` on the data side and t = 0.999 on the noise side."""

    offset: float = 0.008
    t_min: float = -1.0  # −1: where σ/α = DEFAULT_SIGMA_MIN
    horizon: float = 0.999
    name: str = field(default="cosine-vp", init=False)

    def __post_init__(self) -> None:
        check_range("offset", self.offset, 1e-6, 1.0)
        check_range("horizon", self.horizon, 1e-6, 1.0 - 1e-9)
        if self.t_min == -1.0:
            object.__setattr__(self, "t_min", 0.0)
            object.__setattr__(self, "t_min", _time_of_kdiffusion_sigma(self, DEFAULT_SIGMA_MIN))
        check_range("t_min", self.t_min, 0.0, 1.0)
        self._check_span()

    def _phase(self, t):
        return 0.5 * np.pi * (np.asarray(t, dtype=np.float64) + self.offset) / (1.0 + self.offset)

    def alpha(self, t):
        return _like(t, np.cos(self._phase(t)) / np.cos(self._phase(0.0)))

    def sigma(self, t):
        return _like(t, np.sqrt(np.clip(1.0 - (np.cos(self._phase(t)) / np.cos(self._phase(0.0))) ** 2, 0.0, 1.0)))

    def dalpha(self, t):
        return _like(t, -np.sin(self._phase(t)) / np.cos(self._phase(0.0)) * 0.5 * np.pi / (1.0 + self.offset))

    def dsigma(self, t):
        a, s = self.alpha(t), self.sigma(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _like(t, -a * self.dalpha(t) / s)

    @property
    def variance_preserving(self) -> bool:
        return True

    def config(self) -> dict:
        return {"process": "cosine-vp", "offset": self.offset, "t_min": self.t_min, "horizon": self.horizon}


@dataclass(frozen=True, eq=False)
class OUVP(NoiseProcess):
    """The OU process of paper 2, dX = −βX dt + √(2β) dW: α = e^{−βt}, σ = √(1 − e^{−2βt}).

    A network's PF velocity is singular at σ = 0, so the default data-side end is σ/α = :data:`DEFAULT_SIGMA_MIN`;
    the exact mixture (positive σ0) runs to ``t_min = 0``."""

    beta: float = 5.0
    horizon: float = 1.0
    t_min: float = -1.0  # −1: where σ/α = DEFAULT_SIGMA_MIN
    name: str = field(default="ou", init=False)

    def __post_init__(self) -> None:
        check_range("beta", self.beta, 1e-6, 1e6)
        check_range("horizon", self.horizon, 1e-6, 1e6)
        if not 1e-3 <= self.beta * self.horizon <= 300.0:
            raise DistillPlanError("horizon", f"beta * horizon must be in [0.001, 300], got {self.beta * self.horizon:g}")
        if self.t_min == -1.0:  # σ/α = e^{βt}·σ… : t = ln(1 + κ²)/(2β)
            object.__setattr__(self, "t_min", float(np.log1p(DEFAULT_SIGMA_MIN**2) / (2.0 * self.beta)))
        check_range("t_min", self.t_min, 0.0, self.horizon)
        self._check_span()

    def alpha(self, t):
        return _like(t, np.exp(-self.beta * np.asarray(t, dtype=np.float64)))

    def sigma(self, t):
        return _like(t, np.sqrt(-np.expm1(-2.0 * self.beta * np.asarray(t, dtype=np.float64))))

    def dalpha(self, t):
        return _like(t, -self.beta * np.exp(-self.beta * np.asarray(t, dtype=np.float64)))

    def dsigma(self, t):
        t = np.asarray(t, dtype=np.float64)
        with np.errstate(divide="ignore"):
            return _like(t, self.beta * np.exp(-2.0 * self.beta * t) / np.sqrt(-np.expm1(-2.0 * self.beta * t)))

    @property
    def variance_preserving(self) -> bool:
        return True

    def config(self) -> dict:
        return {"process": "ou", "beta": self.beta, "t_min": self.t_min, "horizon": self.horizon}


@dataclass(frozen=True, eq=False)
class EDM(NoiseProcess):
    """Variance exploding in EDM's convention (Karras et al. 2022): x_t = x_0 + t ε, so σ(t) = t, α = 1."""

    t_min: float = DEFAULT_SIGMA_MIN
    horizon: float = 80.0
    name: str = field(default="edm", init=False)

    def __post_init__(self) -> None:
        check_range("t_min", self.t_min, 1e-8, 1e6)
        check_range("horizon", self.horizon, 1e-8, 1e6)
        self._check_span()

    def alpha(self, t):
        return _like(t, np.ones_like(np.asarray(t, dtype=np.float64)))

    def sigma(self, t):
        return _like(t, np.asarray(t, dtype=np.float64).copy())

    def dalpha(self, t):
        return _like(t, np.zeros_like(np.asarray(t, dtype=np.float64)))

    def dsigma(self, t):
        return _like(t, np.ones_like(np.asarray(t, dtype=np.float64)))

    def config(self) -> dict:
        return {"process": "edm", "t_min": self.t_min, "horizon": self.horizon}


@dataclass(frozen=True, eq=False)
class RectifiedFlow(NoiseProcess):
    """Rectified flow: x_t = (1 − t) x_0 + t ε on [0, 1]; its velocity ε − x_0 is dx/dt (1)."""

    t_min: float = 0.0
    horizon: float = 1.0
    name: str = field(default="rectified-flow", init=False)

    def __post_init__(self) -> None:
        check_range("t_min", self.t_min, 0.0, 1.0)
        check_range("horizon", self.horizon, 0.0, 1.0)
        self._check_span()

    def alpha(self, t):
        return _like(t, 1.0 - np.asarray(t, dtype=np.float64))

    def sigma(self, t):
        return _like(t, np.asarray(t, dtype=np.float64).copy())

    def dalpha(self, t):
        return _like(t, -np.ones_like(np.asarray(t, dtype=np.float64)))

    def dsigma(self, t):
        return _like(t, np.ones_like(np.asarray(t, dtype=np.float64)))

    def config(self) -> dict:
        return {"process": "rectified-flow", "t_min": self.t_min, "horizon": self.horizon}


PROCESSES = {"discrete-vp": DiscreteVP, "cosine-vp": CosineVP, "ou": OUVP, "edm": EDM, "rectified-flow": RectifiedFlow}


def make_process(config: dict) -> NoiseProcess:
    """The process a :meth:`NoiseProcess.config` dict describes (bad or unknown entries name ``process``)."""
    if not isinstance(config, dict) or config.get("process") not in PROCESSES:
        name = config.get("process") if isinstance(config, dict) else config
        raise DistillPlanError("process", f"unknown process {name!r}; choose from {list(PROCESSES)}")
    kind = config["process"]
    if kind == "discrete-vp":
        if "alphas_bar" not in config:
            raise DistillPlanError("process", "a discrete-vp process needs its alphas_bar table")
        return DiscreteVP(check_finite_array("alphas_bar", config["alphas_bar"]), config.get("schedule", "custom"))
    params = {k: v for k, v in config.items() if k != "process"}
    try:
        return PROCESSES[kind](**params)
    except TypeError as exc:
        raise DistillPlanError("process", f"bad {kind} parameters {sorted(params)}: {exc}") from None


def _like(t, values):
    """``values`` as a float when ``t`` is a scalar, else as an array."""
    return float(values) if np.ndim(t) == 0 else np.asarray(values, dtype=np.float64)


def _time_of_kdiffusion_sigma(process: NoiseProcess, target: float) -> float:
    """The time where σ/α = ``target`` (σ/α increases with t), by bisection on [t_min, horizon]."""
    lo, hi = float(process.t_min), float(process.horizon)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if process.kdiffusion_sigma(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
