"""Noise schedules and time grids as validated value objects.

* :class:`VPSchedule` — a discrete variance-preserving schedule ``t = 0..T`` with
  ``α_t² + σ_t² = 1`` (``t = 0`` data, ``t = T`` noise), validated like diffrax's ``StepTo``:
  ``1 = α_0 ≥ α_1 ≥ … ≥ α_T ≥ 0``.
* :class:`TimeGrid` — a strictly decreasing continuous-time grid ``t_0 = T > t_1 > … > t_n = 0``
  (used by the flow-distillation side and by the exporters).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DistillPlanError, check_finite_array, check_int_at_least, check_positive

__all__ = ["VPSchedule", "DecreasingGrid", "TimeGrid", "SCHEDULES", "make_schedule"]

_COSINE_OFFSET = 0.008
_DDPM_STEPS = 1000
_DDPM_BETA = (1e-4, 0.02)


@dataclass(frozen=True, eq=False)
class VPSchedule:
    """Discrete variance-preserving schedule: ``alphas[t]`` for ``t = 0..T``.

    ``sigmas = sqrt(1 - alphas²)``. Construct with :meth:`cosine`, :meth:`linear_beta` or
    :meth:`from_alphas`; the constructor validates ``1 = α_0 ≥ … ≥ α_T ≥ 0`` with ``α_T < 1``.
    """

    alphas: np.ndarray
    name: str = "custom"
    sigmas: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        a = check_finite_array("alphas", self.alphas)
        if a.size < 2:
            raise DistillPlanError("alphas", f"needs at least 2 entries (T >= 1), got {a.size}")
        if abs(a[0] - 1.0) > 1e-12:
            raise DistillPlanError("alphas", f"must start at alpha_0 = 1 (data), got {float(a[0])!r}")
        if np.any(a < 0) or np.any(a > 1 + 1e-12):
            raise DistillPlanError("alphas", "every entry must lie in [0, 1]")
        if np.any(np.diff(a) > 0):
            bad = int(np.argmax(np.diff(a) > 0))
            raise DistillPlanError("alphas", f"must be non-increasing in t; alpha[{bad + 1}] > alpha[{bad}]")
        if a[-1] >= 1.0:
            raise DistillPlanError("alphas", f"must end below 1 (noise at t = T), got alpha_T = {float(a[-1])!r}: "
                                             "a schedule without noise has nothing to distil")
        a = a.copy()
        a[0] = 1.0
        a.setflags(write=False)
        s = np.sqrt(np.clip(1.0 - a * a, 0.0, 1.0))
        s.setflags(write=False)
        object.__setattr__(self, "alphas", a)
        object.__setattr__(self, "sigmas", s)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def cosine(cls, steps: int, offset: float = _COSINE_OFFSET) -> "VPSchedule":
        """Nichol & Dhariwal cosine schedule: α(u) = cos(((u+s)/(1+s))·π/2) / cos((s/(1+s))·π/2), u = t/T."""
        T = check_int_at_least("steps", steps, 1)
        offset = check_positive("offset", offset)
        u = np.arange(T + 1, dtype=np.float64) / T
        a = np.cos((u + offset) / (1 + offset) * np.pi / 2) / np.cos(offset / (1 + offset) * np.pi / 2)
        a[-1] = 0.0  # cos(π/2) is 6e-17 in floating point; the schedule ends in pure noise
        return cls(np.clip(a, 0.0, 1.0), name="cosine")

    @classmethod
    def linear_beta(cls, steps: int, beta_start: float = _DDPM_BETA[0], beta_end: float = _DDPM_BETA[1],
                    train_steps: int = _DDPM_STEPS) -> "VPSchedule":
        """DDPM linear-β schedule (β from 1e-4 to 0.02 over 1000 steps), ᾱ subsampled to T+1 points.

        α_t = sqrt(ᾱ_{k(t)}) with k(t) = round(t·N/T) and ᾱ_0 = 1 (N = ``train_steps``).
        """
        T = check_int_at_least("steps", steps, 1)
        N = check_int_at_least("train_steps", train_steps, 1)
        if T > N:
            raise DistillPlanError("steps", f"cannot exceed train_steps={N} for the linear-beta schedule, got {T}")
        b0, b1 = check_positive("beta_start", beta_start), check_positive("beta_end", beta_end)
        if not (b0 <= b1 < 1):
            raise DistillPlanError("beta_end", f"must satisfy beta_start <= beta_end < 1, got {b0}, {b1}")
        betas = np.linspace(b0, b1, N)
        alpha_bar = np.concatenate([[1.0], np.cumprod(1.0 - betas)])
        k = np.round(np.linspace(0, N, T + 1)).astype(int)
        return cls(np.sqrt(alpha_bar[k]), name="linear")

    @classmethod
    def from_alphas(cls, alphas) -> "VPSchedule":
        """A user-given 1-d α array (validated: 1 = α_0 ≥ … ≥ α_T ≥ 0, α_T < 1)."""
        return cls(np.asarray(alphas, dtype=np.float64), name="custom")

    # ---------------------------------------------------------------- properties
    @property
    def steps(self) -> int:
        """Number of teacher steps T."""
        return self.alphas.size - 1

    def r2(self, lam: np.ndarray) -> np.ndarray:
        """Variance of z_t per coordinate: r_t² = α_t² λ + σ_t², shape (T+1, d)."""
        lam = np.asarray(lam, dtype=np.float64)
        return self.alphas[:, None] ** 2 * lam[None, :] + self.sigmas[:, None] ** 2

    def to_dict(self) -> dict:
        return {"name": self.name, "alphas": self.alphas.tolist()}

    def __repr__(self) -> str:
        return f"VPSchedule(name={self.name!r}, steps={self.steps})"


SCHEDULES = {"cosine": VPSchedule.cosine, "linear": VPSchedule.linear_beta}


def make_schedule(name: str, steps: int) -> VPSchedule:
    """Build a named schedule (``cosine`` or ``linear``) with ``steps`` teacher steps."""
    try:
        factory = SCHEDULES[name]
    except KeyError:
        raise DistillPlanError("schedule", f"unknown schedule {name!r}; choose from {sorted(SCHEDULES)}") from None
    return factory(steps)


@dataclass(frozen=True, eq=False)
class DecreasingGrid:
    """Strictly decreasing times ``t_0 > t_1 > … > t_n`` (n ≥ 1 segments), noise side first; segment k maps
    ``t_{k-1} → t_k``. The base of :class:`TimeGrid` and of a calibrated grid in a process's own time."""

    times: np.ndarray

    def _freeze_times(self) -> np.ndarray:
        """Validate ``times`` (finite, at least 2, strictly decreasing), store a read-only copy, return it."""
        t = check_finite_array("grid", self.times)
        if t.size < 2:
            raise DistillPlanError("grid", f"needs at least 2 points (1 segment), got {t.size}")
        if not np.all(np.diff(t) < 0):
            bad = int(np.argmax(~(np.diff(t) < 0)))
            raise DistillPlanError("grid", f"must be strictly decreasing; t[{bad + 1}]={float(t[bad + 1])!r} "
                                         f">= t[{bad}]={float(t[bad])!r}")
        t = t.copy()
        t.setflags(write=False)
        object.__setattr__(self, "times", t)
        return t

    @property
    def segments(self) -> int:
        return self.times.size - 1

    @property
    def horizon(self) -> float:
        """The noise end ``t_0``."""
        return float(self.times[0])

    def pairs(self) -> list[tuple[float, float]]:
        """``[(t_{k-1}, t_k)]`` for each segment, noise side first."""
        return list(zip(self.times[:-1].tolist(), self.times[1:].tolist()))

    def __len__(self) -> int:
        return self.times.size


@dataclass(frozen=True, eq=False)
class TimeGrid(DecreasingGrid):
    """A strictly decreasing time grid ``t_0 = horizon > t_1 > … > t_n = 0`` (n ≥ 1 segments).

    Segment k maps ``t_{k-1} → t_k`` (noise to data). ``kind`` records how it was built.
    """

    kind: str = "custom"

    def __post_init__(self) -> None:
        t = self._freeze_times()
        if t[-1] != 0.0:
            raise DistillPlanError("grid", f"must end exactly at t = 0, got {float(t[-1])!r}")
        if not t[0] > 0:
            raise DistillPlanError("grid", f"must start at the horizon T > 0, got {float(t[0])!r}")

    def __repr__(self) -> str:
        return f"TimeGrid(kind={self.kind!r}, segments={self.segments}, horizon={self.horizon:g})"
