"""The linear-Gaussian DDIM teacher of paper 1 (arXiv 2505.16024), per coordinate.

Data x0 ~ N(0, Λ), Λ = diag(λ_1..λ_d); z_t = α_t x0 + σ_t ε on a :class:`~distillplan.schedules.VPSchedule`.
Everything here is vectorised over the coordinates (arrays of shape ``(d,)``) and float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DistillPlanError, check_finite_array
from ..gaussian import w2_centred_diagonal
from ..schedules import VPSchedule

__all__ = ["LinearTeacher", "check_variances", "LAM_RANGE"]

LAM_RANGE = (1e-12, 1e12)
"""Data variances λ accepted, relative to the unit noise variance. Beyond them the optimal plan no
longer changes (BOOT below 1, vanilla far above on the built-in schedules); the floor also keeps
subnormal and underflowing values out."""


def check_variances(lam, name: str = "lam") -> np.ndarray:
    """Validate data variances λ_i: a finite 1-d array with every entry in :data:`LAM_RANGE`."""
    arr = check_finite_array(name, lam)
    low, high = LAM_RANGE
    if np.any(arr <= 0):
        raise DistillPlanError(name, f"variances must be > 0, got min {arr.min():g}")
    if np.any(arr < low) or np.any(arr > high):
        bad = arr[(arr < low) | (arr > high)][0]
        raise DistillPlanError(name, f"variances must be in [{low:g}, {high:g}], got {bad:g}")
    return arr


@dataclass(frozen=True, eq=False)
class LinearTeacher:
    """DDIM teacher with the exact linear denoiser for N(0, Λ) on a VP schedule.

    Attributes (all float64):

    * ``r2[t, i]``  = α_t² λ_i + σ_t², the variance of z_t (shape ``(T+1, d)``);
    * ``step[t, i]`` = A*_t = (α_{t−1} α_t λ_i + σ_{t−1} σ_t) / r_t², the DDIM step t → t−1
      (row 0 is NaN; shape ``(T+1, d)``).
    """

    schedule: VPSchedule
    lam: np.ndarray
    r2: np.ndarray = field(init=False, repr=False)
    step: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        lam = check_variances(self.lam)
        lam.setflags(write=False)
        a, s = self.schedule.alphas[:, None], self.schedule.sigmas[:, None]
        r2 = a * a * lam[None, :] + s * s
        step = np.full_like(r2, np.nan)
        step[1:] = (a[:-1] * a[1:] * lam + s[:-1] * s[1:]) / r2[1:]
        for arr in (r2, step):
            arr.setflags(write=False)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "r2", r2)
        object.__setattr__(self, "step", step)

    @property
    def steps(self) -> int:
        """Number of teacher steps T."""
        return self.schedule.steps

    @property
    def dim(self) -> int:
        return self.lam.size

    def _check_interval(self, a: int, b: int) -> None:
        if not (0 <= b < a <= self.steps):
            raise DistillPlanError("interval", f"need 0 <= b < a <= T={self.steps}, got a={a}, b={b}")

    def composite(self, a: int, b: int) -> np.ndarray:
        """Teacher composite over [a → b]: P(a, b) = Π_{t=b+1..a} A*_t."""
        self._check_interval(a, b)
        return np.prod(self.step[b + 1 : a + 1], axis=0)

    def surrogate(self) -> np.ndarray:
        """The surrogate composite operator P* = P(T, 0)."""
        return self.composite(self.steps, 0)

    def jump(self, a: int, b: int) -> np.ndarray:
        """Single DDIM jump a → b: (α_b α_a λ + σ_b σ_a) / r_a² (contracts more than P(a, b))."""
        self._check_interval(a, b)
        al, sg = self.schedule.alphas, self.schedule.sigmas
        return (al[b] * al[a] * self.lam + sg[b] * sg[a]) / self.r2[a]

    def jump_many(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`jump` for index arrays ``a``, ``b`` (no validation); shape ``a.shape + (d,)``."""
        al, sg = self.schedule.alphas, self.schedule.sigmas
        a, b = np.asarray(a), np.asarray(b)
        return (al[b][..., None] * al[a][..., None] * self.lam + sg[b][..., None] * sg[a][..., None]) / self.r2[a]

    def all_composites(self) -> np.ndarray:
        """Table ``P[a, b, i]`` of every composite (NaN where b ≥ a); shape ``(T+1, T+1, d)``."""
        T = self.steps
        P = np.full((T + 1, T + 1, self.dim), np.nan)
        for a in range(1, T + 1):
            P[a, a - 1] = self.step[a]
            for b in range(a - 2, -1, -1):
                P[a, b] = P[a, b + 1] * self.step[b + 1]
        return P

    def output_std(self) -> np.ndarray:
        """Std of the teacher's samples, r_T·P* = √λ·Π_t cos(ψ_{t−1} − ψ_t) < √λ (the teacher contracts)."""
        return np.sqrt(self.r2[-1]) * np.abs(self.surrogate())

    def angles(self) -> np.ndarray:
        """Angles ψ_t of the signal-noise vectors v_t = (α_t √λ, σ_t), shape ``(T+1, d)``."""
        al, sg = self.schedule.alphas[:, None], self.schedule.sigmas[:, None]
        return np.arctan2(sg * np.ones_like(self.lam), al * np.sqrt(self.lam))

    def w2_to_data(self) -> float:
        """W2 between the teacher's output N(0, diag(std²)) and the data N(0, Λ)."""
        return w2_centred_diagonal(self.output_std() ** 2, self.lam)
