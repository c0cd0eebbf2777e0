"""What a calibration returns: the measured profile, its stability coordinate, the grid, and their bands."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .grid import ProcessGrid
from .stability import StabilityCurve

__all__ = ["ProfileSummary", "CalibrationSettings", "Calibration"]


@dataclass(frozen=True, eq=False)
class ProfileSummary:
    """The profile ``L̂(t) = ρ`` over trajectories at each profile time: ``mean``, ``q95`` and ``max`` (M,)."""

    mean: np.ndarray
    q95: np.ndarray
    max: np.ndarray

    @classmethod
    def of(cls, rho: np.ndarray) -> "ProfileSummary":
        return cls(rho.mean(axis=0), np.quantile(rho, 0.95, axis=0), rho.max(axis=0))

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "q95": self.q95.tolist(), "max": self.max.tolist()}


@dataclass(frozen=True)
class CalibrationSettings:
    """How the calibration ran: N trajectories, M profile points, k power iterations (tolerance ``tol``),
    ``substeps`` RK4 steps between profile points, the profile kind, the aggregate (``quantile`` or None for
    the mean), the seed and the number of bootstrap resamples."""

    samples: int
    points: int
    iters: int
    tol: float
    substeps: int
    profile: str
    quantile: float | None
    seed: int
    bootstrap: int
    segments: int


@dataclass(frozen=True, eq=False)
class Calibration:
    """A measured stability profile and the grid that balances it.

    * ``times`` (M,): profile times, strictly decreasing from ``horizon`` to ``t_min`` (trajectory order).
    * ``rho`` (N, M): the density per trajectory (``||∂v/∂x||₂`` lower bounds, or ``√||dv/dt||``).
    * ``summary``: mean / q95 / max of ``rho`` over trajectories.
    * ``A_trajectories`` (N, M), ``A_hat`` (M,), ``A_total``: ``Â_i(t) = ∫_{t_min}^t ρ_i``, their aggregate
      (mean or quantile) at ``times`` (so ``A_hat[0] = A_total``, ``A_hat[-1] = 0``), and ``Â(horizon)``.
    * ``A_band`` (2, M), ``grid_band`` (2, n + 1): bootstrap 5–95 % bands (None without bootstrap).
    * ``grid``: n + 1 times from ``horizon`` down to ``t_min`` with equal shares of ``A_total``.
    * ``iterations``, ``unconverged`` (M,): power iterations used and rows not converged per profile time
      (zeros for the acceleration profile).
    * ``settings``, ``process`` (the config dict), ``seconds`` (wall time).
    """

    times: np.ndarray
    rho: np.ndarray
    summary: ProfileSummary
    A_trajectories: np.ndarray
    A_hat: np.ndarray
    A_total: float
    A_band: np.ndarray | None
    grid: ProcessGrid
    grid_band: np.ndarray | None
    settings: CalibrationSettings
    iterations: np.ndarray
    unconverged: np.ndarray
    process: dict
    seconds: float
    curve: StabilityCurve

    @property
    def t_min(self) -> float:
        return float(self.times[-1])

    @property
    def horizon(self) -> float:
        return float(self.times[0])

    @property
    def unconverged_total(self) -> int:
        """Rows not converged, summed over profile times."""
        return int(self.unconverged.sum())

    def stability_at(self, t) -> np.ndarray:
        """``Â(t)`` of the aggregate at any times in ``[t_min, horizon]`` (the interpolant the grid inverts)."""
        return self.curve.at(t)

    def segment_shares(self) -> np.ndarray:
        """``Â(t_{k−1}) − Â(t_k)`` per grid segment (all ``A_total/n`` up to the bisection's resolution)."""
        return -np.diff(self.stability_at(self.grid.times))

    def to_dict(self) -> dict:
        """JSON-able summary (per-trajectory arrays left out)."""
        band = (lambda b: None if b is None else b.tolist())
        return {"process": dict(self.process), "settings": asdict(self.settings), "times": self.times.tolist(),
                "summary": self.summary.to_dict(), "A_hat": self.A_hat.tolist(), "A_total": self.A_total,
                "A_band": band(self.A_band), "grid": self.grid.to_dict(), "grid_band": band(self.grid_band),
                "iterations": self.iterations.tolist(), "unconverged": self.unconverged.tolist(),
                "seconds": self.seconds}
