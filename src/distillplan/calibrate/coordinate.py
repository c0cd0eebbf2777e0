"""The profile coordinate: half the log-SNR, softly saturated where it is infinite.

With ``κ(t) = σ(t)/α(t)`` (k-diffusion's noise level; ``λ = −2 ln κ`` is the log-SNR) the coordinate is

    w(t) = ln(1 + κ/κ_max) − ln(κ + κ_min),                                                   (1)

which is ``−ln κ = λ/2`` wherever ``κ_min ≪ κ ≪ κ_max`` and stays finite at the ends:

* ``κ_min`` = :data:`DATA_SIDE_SIGMA` (EDM's σ_min = 0.002) when the data end has ``κ(t_min) <`` it (e.g. the
  OU process at ``t_min = 0``, where σ = 0 and λ = +∞); otherwise 0 and (1) is exactly λ/2 there.
* ``κ_max`` = :data:`NOISE_SIDE_SIGMA` (EDM's σ_max = 80) when the noise end has ``κ(horizon) >`` it (e.g.
  rectified flow at ``horizon = 1``, where α = 0 and λ = −∞); otherwise ∞.

So points uniform in ``w`` are uniform in log-SNR inside EDM's noise range ``[0.002, 80]``; beyond it they
continue uniformly in ``−ln(κ + κ_min)`` (data side) or ``ln(1/κ + 1/κ_max)`` (noise side), which reach the
exact end points ``t_min`` and ``horizon`` in a few steps. Both saturations are linear in the quantity that
vanishes at a singular end (σ/α near σ = 0, α/σ near α = 0), so ``t(w)`` stays smooth up to the ends.
Features of a profile at noise levels ``κ ≪ κ_min`` (e.g. a mixture with component width σ0 ≪ 0.002)
fall inside the last step and are not resolved.

Inverse: ``e^{−w} = (κ + κ_min)/(1 + κ/κ_max)`` gives ``κ = (e^{−w} − κ_min)/(1 − e^{−w}/κ_max)``, then
``t = process.time_of_log_snr(−2 ln κ)``. Derivative: ``dw/dt = (dw/dκ)(dκ/dt)`` with
``dw/dκ = 1/(κ_max + κ) − 1/(κ + κ_min)`` and ``dκ/dt = (σ'α − σα')/α²`` for ``κ ≤ 1``; for ``κ > 1`` the same
in ``ν = α/σ = 1/κ``: ``dw/dν = 1/(ν + 1/κ_max) − κ_min/(1 + κ_min ν)``, ``dν/dt = (α'σ − ασ')/σ²`` (each
form is finite where the other is 0·∞).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DistillPlanError, check_finite_array, check_int_range
from ..models.processes import NoiseProcess

__all__ = ["DATA_SIDE_SIGMA", "NOISE_SIDE_SIGMA", "ProfileCoordinate"]

DATA_SIDE_SIGMA = 0.002
"""``κ_min`` of (1): below this σ/α (EDM's σ_min) the coordinate saturates toward the data end."""
NOISE_SIDE_SIGMA = 80.0
"""``κ_max`` of (1): above this σ/α (EDM's σ_max) the coordinate saturates toward the noise end."""
_SLACK = 1e-9
MAX_POINTS = 1_000_000
"""Most nodes :meth:`ProfileCoordinate.nodes` places."""


@dataclass(frozen=True, eq=False)
class ProfileCoordinate:
    """The coordinate (1) of ``process``; build it with :meth:`of`. ``w`` increases from the noise end
    ``w_start = w(horizon)`` to the data end ``w_end = w(t_min)``."""

    process: NoiseProcess
    kappa_min: float
    kappa_max: float
    w_start: float
    w_end: float

    @classmethod
    def of(cls, process: NoiseProcess) -> "ProfileCoordinate":
        """Saturate each end whose σ/α lies outside ``[DATA_SIDE_SIGMA, NOISE_SIDE_SIGMA]`` (module docstring)."""
        if not isinstance(process, NoiseProcess):
            raise DistillPlanError("process", f"must be a NoiseProcess, got {type(process).__name__}")
        k_lo = _kappa(process, float(process.t_min))
        k_hi = _kappa(process, float(process.horizon))
        # a relative slack keeps processes whose default end sits exactly on EDM's range (cosine-vp) unsaturated
        kappa_min = DATA_SIDE_SIGMA if k_lo < DATA_SIDE_SIGMA * (1.0 - _SLACK) else 0.0
        kappa_max = NOISE_SIDE_SIGMA if k_hi > NOISE_SIDE_SIGMA * (1.0 + _SLACK) else np.inf
        start = _w_of_kappa(np.array(k_hi), kappa_min, kappa_max)
        end = _w_of_kappa(np.array(k_lo), kappa_min, kappa_max)
        if not (np.isfinite(start) and np.isfinite(end) and start < end):
            raise DistillPlanError("process", f"the {process.name} process has no finite, increasing log-SNR "
                                              f"coordinate between t_min and horizon")
        return cls(process, kappa_min, kappa_max, float(start), float(end))

    # ------------------------------------------------------------------ maps
    def of_time(self, t) -> np.ndarray:
        """``w(t)`` of (1) for times in ``[t_min, horizon]`` (float64 array)."""
        t = np.atleast_1d(self.process.check_times(t))
        return _w_of_kappa(_kappa(self.process, t), self.kappa_min, self.kappa_max)

    def time_of(self, w) -> np.ndarray:
        """Inverse of :meth:`of_time`; ``w`` is clipped to ``[w_start, w_end]``, whose ends map exactly to
        ``horizon`` and ``t_min``."""
        w = np.atleast_1d(check_finite_array("w", w, ndim=None)).astype(np.float64)
        out = np.empty(w.shape)
        at_noise, at_data = w <= self.w_start, w >= self.w_end
        out[at_noise], out[at_data] = self.process.horizon, self.process.t_min
        inner = ~(at_noise | at_data)
        if np.any(inner):
            e = np.exp(-w[inner])
            # κ = (e − κ_min)/(1 − e/κ_max), so λ = −2 ln κ = 2(ln(1 − e/κ_max) − ln(e − κ_min)): both logs are
            # of positive, finite numbers strictly inside the ends (no κ = 0 or ∞ is ever formed)
            lam = 2.0 * (np.log1p(-e / self.kappa_max) - np.log(e - self.kappa_min))
            out[inner] = self.process.time_of_log_snr(lam)
        return out

    def time_derivative(self, t) -> np.ndarray:
        """``dt/dw ≤ 0`` at times ``t`` (0 where ``dw/dt`` is infinite, e.g. at σ = 0 with σ ∝ √t)."""
        t = np.atleast_1d(self.process.check_times(t))
        p = self.process
        a, s, da, ds = (np.atleast_1d(np.asarray(f(t), dtype=np.float64))
                        for f in (p.alpha, p.sigma, p.dalpha, p.dsigma))
        dw_dt = np.empty(t.shape)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            kappa = s / a
            low = kappa <= 1.0
            k = kappa[low]
            dw_dk = 1.0 / (self.kappa_max + k) - 1.0 / (k + self.kappa_min)
            dk_dt = (ds[low] * a[low] - s[low] * da[low]) / a[low] ** 2
            dw_dt[low] = dw_dk * dk_dt
            nu = a[~low] / s[~low]
            dw_dnu = 1.0 / (nu + 1.0 / self.kappa_max) - self.kappa_min / (1.0 + self.kappa_min * nu)
            dnu_dt = (da[~low] * s[~low] - a[~low] * ds[~low]) / s[~low] ** 2
            dw_dt[~low] = dw_dnu * dnu_dt
            out = 1.0 / dw_dt
        if not np.all(np.isfinite(out) & (out <= 0)):
            raise DistillPlanError("t", f"the {p.name} process has no finite, negative dt/dw at some of these times")
        return out

    def nodes(self, points: int) -> tuple[np.ndarray, np.ndarray]:
        """``(times, w)``: ``points`` nodes uniform in ``w`` from the noise end to the data end; ``times`` is
        strictly decreasing from exactly ``horizon`` to exactly ``t_min``."""
        points = check_int_range("points", points, 2, MAX_POINTS)
        w = np.linspace(self.w_start, self.w_end, points)
        w[0], w[-1] = self.w_start, self.w_end
        times = self.time_of(w)
        if not np.all(np.diff(times) < 0):
            k = int(np.argmax(np.diff(times) >= 0))
            raise DistillPlanError("points", f"{points} profile points are too many for the {self.process.name} "
                                             f"process: two coincide near t = {times[k]:.6g}")
        return times, w


def _kappa(process: NoiseProcess, t):
    """``σ/α`` (``inf`` where α = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(process.sigma(t), dtype=np.float64) / np.asarray(process.alpha(t), dtype=np.float64)


def _w_of_kappa(kappa: np.ndarray, kappa_min: float, kappa_max: float):
    """(1), through ``ν = 1/κ`` where κ > 1: ``w = ln(ν + 1/κ_max) − ln(1 + κ_min ν)``."""
    kappa = np.asarray(kappa, dtype=np.float64)
    out = np.empty(kappa.shape)
    low = kappa <= 1.0
    with np.errstate(divide="ignore"):
        out[low] = np.log1p(kappa[low] / kappa_max) - np.log(kappa[low] + kappa_min)
        nu = 1.0 / kappa[~low]
        out[~low] = np.log(nu + 1.0 / kappa_max) - np.log1p(kappa_min * nu)
    return out if out.ndim else float(out)
