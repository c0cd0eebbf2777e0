"""The measured stability coordinate ``Â(t) = ∫_{t_min}^t ρ(u) du`` and the grid that balances it.

**Quadrature.** In the profile coordinate ``w`` of :mod:`.coordinate` (≈ half the log-SNR) the profile
points are uniform, and ``Â(t) = ∫_{w(t)}^{w(t_min)} g(w) dw`` with ``g = ρ·|dt/dw|``. In ``z = −w`` (which
increases with t) each trajectory's ``g`` is interpolated by the not-a-knot cubic spline through the M
points (fourth order) and integrated exactly: on paper 2's bound L(t) (β = 5, T = 1, σ0 from 0.01 to 2,
D0 up to 41) the error at M = 64 is 8e-7 to 9e-6 of A(T), where the trapezoid rule or a PCHIP interpolant
in the same coordinate err by up to 2e-4 and 3e-4. A kink in ρ (|·| through 0, top singular values crossing) costs
the spline its order there: 4e-4 at M = 64 and 2e-5 at M = 256 on a rectified-flow Gaussian. A
spline piece that dips below 0 (possible only for rough data) is replaced by the PCHIP piece on that
interval, which stays between its end values ≥ 0. So every trajectory's ``Â_i`` is non-decreasing and
is piecewise quartic in ``z``.

**Aggregate.** ``mean`` (default): ``Â = mean_i Â_i``; the spline is linear in the data, so this is again
piecewise quartic (the mean of the pieces) and non-decreasing. ``quantile q``: the pointwise q-quantile
of ``Â_i(t_j)`` over trajectories at the M points, interpolated by PCHIP in ``z`` (monotone, third order).

**Grid.** ``n`` segments with equal shares: ``Â(t_k) = (n − k)/n · Â(horizon)``, k = 0..n, found by
bisection (to float64 resolution) on the same piecewise polynomial, mapped back to t by the coordinate.

**Bootstrap.** ``B`` resamples of the N trajectories with replacement (seeded stream ``("resample", seed,
"calibrate")``) repeat the aggregate and the grid; the band is the 5 % and 95 % quantiles over
resamples of ``Â`` at each profile time and of each grid time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator

from ..errors import DistillPlanError, check_int_range, check_range, check_seed
from ..nn.streams import numpy_generator
from .coordinate import ProfileCoordinate
from .grid import ProcessGrid

__all__ = ["BAND", "QUANTILE_RANGE", "TrajectoryStability", "StabilityCurve", "trajectory_stability",
           "aggregate_curve", "balanced_grid", "bootstrap_bands"]

BAND = (0.05, 0.95)
"""Quantiles over bootstrap resamples that bound the reported bands."""
QUANTILE_RANGE = (0.0, 1.0)
"""Allowed quantiles over trajectories (0: the smallest Â_i, 1: the largest)."""
_BISECTIONS = 200  # more than enough to reach float64 resolution inside one interval


@dataclass(frozen=True, eq=False)
class TrajectoryStability:
    """Per-trajectory ``Â_i``: ``A`` (N, M) at the profile ``times`` (decreasing, so ``A[:, 0]`` is each
    trajectory's total and ``A[:, -1] = 0``); ``z`` (M,) ascending ``−w`` (data end first) and ``pieces``
    (N, 5, M − 1): ``Â_i`` on ``[z_j, z_{j+1}]`` is ``Σ_p pieces[i, p, j] (z − z_j)^{4−p}``."""

    coordinate: ProfileCoordinate
    times: np.ndarray
    z: np.ndarray
    A: np.ndarray
    pieces: np.ndarray


@dataclass(frozen=True, eq=False)
class StabilityCurve:
    """An aggregate ``Â``: node ``values`` (M,) ascending in ``z`` (0 at ``t_min``) and piecewise-polynomial
    ``coef`` (K, M − 1) in ``z − z_j`` (highest power first), non-decreasing in ``z``."""

    coordinate: ProfileCoordinate
    z: np.ndarray
    values: np.ndarray
    coef: np.ndarray

    @property
    def total(self) -> float:
        """``Â(horizon)``."""
        return float(self.values[-1])

    def at(self, t) -> np.ndarray:
        """``Â(t)`` at times in ``[t_min, horizon]``."""
        zq = -self.coordinate.of_time(t)
        return _evaluate(self.z, self.coef[None], zq[None])[0]

    def times_at(self, targets) -> np.ndarray:
        """The times where ``Â`` reaches ``targets`` (each in ``[0, total]``), by bisection."""
        targets = np.atleast_1d(np.asarray(targets, dtype=np.float64))
        zq = _invert(self.z, self.values[None], self.coef[None], targets[None])[0]
        return self.coordinate.time_of(-zq)


def trajectory_stability(process, times, rho) -> TrajectoryStability:
    """``Â_i`` of every row of ``rho`` (N, M) ≥ 0 measured at ``times`` (M,), strictly decreasing from
    ``horizon`` to ``t_min`` (module docstring)."""
    coordinate = ProfileCoordinate.of(process)
    times = np.atleast_1d(process.check_times(times, "times"))
    if times.ndim != 1 or times.size < 4 or not np.all(np.diff(times) < 0):
        raise DistillPlanError("times", "must hold at least 4 strictly decreasing times")
    if times[0] != process.horizon or times[-1] != process.t_min:
        raise DistillPlanError("times", f"must run from the horizon {process.horizon:g} to t_min {process.t_min:g}, "
                                        f"got {times[0]:g} to {times[-1]:g}")
    rho = np.asarray(rho, dtype=np.float64)
    if rho.ndim != 2 or rho.shape[1] != times.size:
        raise DistillPlanError("rho", f"must have shape (N, {times.size}), got {rho.shape}")
    if not np.all(np.isfinite(rho)) or np.any(rho < 0):
        raise DistillPlanError("rho", "must be finite and >= 0")
    g = rho * np.abs(coordinate.time_derivative(times))[None, :]
    z = -coordinate.of_time(times)[::-1]
    pieces = _integrand_pieces(z, g[:, ::-1].T)  # (4, M−1, N)
    h = np.diff(z)[:, None]
    a, b, c, d = pieces
    increments = ((a * h / 4.0 + b / 3.0) * h + c / 2.0) * h * h + d * h
    values = np.vstack([np.zeros((1, rho.shape[0])), np.cumsum(increments, axis=0)])  # (M, N), ascending z
    quartic = np.stack([a / 4.0, b / 3.0, c / 2.0, d, values[:-1]])  # (5, M−1, N)
    pieces_by_row = np.ascontiguousarray(quartic.transpose(2, 0, 1))  # (N, 5, M−1)
    return TrajectoryStability(coordinate, times, z, values[::-1].T.copy(), pieces_by_row)


def aggregate_curve(stability: TrajectoryStability, quantile: float | None = None) -> StabilityCurve:
    """The mean (``quantile=None``) or pointwise ``quantile`` over trajectories of ``Â_i`` (module docstring)."""
    if quantile is None:
        values = stability.A[:, ::-1].mean(axis=0)
        coef = stability.pieces.mean(axis=0)
        values[0] = 0.0
        return StabilityCurve(stability.coordinate, stability.z, values, coef)
    quantile = check_range("quantile", quantile, *QUANTILE_RANGE)
    values = np.quantile(stability.A[:, ::-1], quantile, axis=0)
    return StabilityCurve(stability.coordinate, stability.z, values, _pchip_coef(stability.z, values))


def balanced_grid(curve: StabilityCurve, segments: int, kind: str = "calibrated") -> ProcessGrid:
    """``segments`` + 1 times from ``horizon`` to ``t_min`` with ``Â(t_k) = (n − k)/n · Â(horizon)``."""
    segments = check_int_range("segments", segments, 1, 10**7)
    total = curve.total
    if not total > 0:
        raise DistillPlanError("curve", "has zero stability coordinate Â(horizon) = 0: nothing to balance")
    process = curve.coordinate.process
    interior = curve.times_at(total * np.arange(1, segments) / segments)[::-1] if segments > 1 else np.empty(0)
    times = np.concatenate([[process.horizon], interior, [process.t_min]])
    if not np.all(np.diff(times) < 0):
        k = int(np.argmax(np.diff(times) >= 0))
        raise DistillPlanError("segments", f"{segments} segments is too many for this profile: Â(t) is flat near "
                                           f"t = {times[k]:.6g}, so two grid points coincide; use fewer segments")
    return ProcessGrid(times, process.config(), kind)


def bootstrap_bands(stability: TrajectoryStability, segments: int, quantile: float | None = None,
                    resamples: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(A_band, grid_band)``: shapes (2, M) at the profile times and (2, segments + 1) at the grid points,
    the :data:`BAND` quantiles over ``resamples`` bootstrap resamples of the trajectories."""
    segments = check_int_range("segments", segments, 1, 10**7)
    resamples = check_int_range("resamples", resamples, 1, 10**6)
    rng = numpy_generator("resample", check_seed("seed", seed), "calibrate")
    n, m = stability.A.shape
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)  # (B, N)
    ascending = stability.A[:, ::-1]
    if quantile is None:
        values = counts @ ascending / n
        coef = (counts @ stability.pieces.reshape(n, -1) / n).reshape(resamples, *stability.pieces.shape[1:])
    else:
        quantile = check_range("quantile", quantile, *QUANTILE_RANGE)
        values = np.empty((resamples, m))
        coef = np.empty((resamples, 4, m - 1))
        for b in range(resamples):
            rows = np.repeat(np.arange(n), counts[b].astype(np.int64))
            values[b] = np.quantile(ascending[rows], quantile, axis=0)
            coef[b] = _pchip_coef(stability.z, values[b])
    values[:, 0] = 0.0
    totals = values[:, -1]
    process = stability.coordinate.process
    grids = np.full((resamples, segments + 1), np.nan)
    grids[:, 0], grids[:, -1] = process.horizon, process.t_min
    ok = totals > 0
    if segments > 1 and np.any(ok):
        targets = totals[ok, None] * np.arange(1, segments)[None, :] / segments
        zq = _invert(stability.z, values[ok], coef[ok], targets)
        grids[ok, 1:-1] = stability.coordinate.time_of(-zq.ravel()).reshape(zq.shape)[:, ::-1]
    a_band = np.quantile(values[:, ::-1], BAND, axis=0)
    grid_band = np.nanquantile(grids, BAND, axis=0)
    return a_band, grid_band


# ---------------------------------------------------------------------- piecewise polynomials
def _integrand_pieces(z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Cubic pieces (4, M − 1, C) of the columns of ``g`` (M, C) ≥ 0: the not-a-knot spline, with the
    PCHIP piece wherever the spline piece goes negative."""
    spline = CubicSpline(z, g, axis=0, bc_type="not-a-knot").c
    negative = _piece_minimum(spline, np.diff(z)) < 0
    if np.any(negative):
        pchip = PchipInterpolator(z, g, axis=0).c
        spline = np.where(negative[None], pchip, spline)
    return spline


def _piece_minimum(c: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Minimum of ``a x³ + b x² + c x + d`` over ``x ∈ [0, h]`` for pieces ``c`` (4, M − 1, C)."""
    a, b, c1, d = c
    h = h.reshape((-1,) + (1,) * (c.ndim - 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        # critical points of 3a x² + 2b x + c1, by the cancellation-free quadratic formula
        disc = np.maximum(b * b - 3.0 * a * c1, 0.0)
        q = -(b + np.copysign(np.sqrt(disc), b))
        roots = [q / (3.0 * a), c1 / q]
    best = np.minimum(d, ((a * h + b) * h + c1) * h + d)
    for x in roots:
        x = np.where(np.isfinite(x) & (x > 0) & (x < h), x, 0.0)
        best = np.minimum(best, ((a * x + b) * x + c1) * x + d)
    return best


def _pchip_coef(z: np.ndarray, values: np.ndarray) -> np.ndarray:
    """PCHIP pieces (4, M − 1) through non-decreasing ``values``."""
    return PchipInterpolator(z, values).c


def _horner(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    for p in range(coef.shape[0]):
        out = out * x + coef[p]
    return out


def _gather(coef: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``coef`` (R, K, M − 1) at intervals ``j`` (R, T) → (K, R, T)."""
    rows = np.arange(coef.shape[0])[:, None]
    return np.moveaxis(coef[rows, :, j], -1, 0)


def _evaluate(z: np.ndarray, coef: np.ndarray, zq: np.ndarray) -> np.ndarray:
    """Piecewise polynomials (R, K, M − 1) at ``zq`` (R, T)."""
    j = np.clip(np.searchsorted(z, zq, side="right") - 1, 0, z.size - 2)
    return _horner(_gather(coef, j), zq - z[j])


def _invert(z: np.ndarray, values: np.ndarray, coef: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``z`` where each non-decreasing piecewise polynomial (rows of ``values`` (R, M), ``coef``) reaches
    ``targets`` (R, T): locate the interval from the node values, then bisect inside it."""
    j = np.stack([np.searchsorted(values[r], targets[r], side="left") for r in range(values.shape[0])]) - 1
    j = np.clip(j, 0, z.size - 2)
    local = _gather(coef, j)
    lo, hi = np.zeros(targets.shape), np.diff(z)[j]
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if np.all((mid == lo) | (mid == hi)):
            break
        below = _horner(local, mid) < targets
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return z[j] + 0.5 * (lo + hi)
