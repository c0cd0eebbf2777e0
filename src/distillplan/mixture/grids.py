"""Time grids ``T = t_0 > t_1 > … > t_n = 0`` for composing n segment maps (paper 2, §3).

* ``stability`` — uniform in the cumulative stability coordinate: ``A(t_{n−k}) = (k/n) A(T)``, so
  every segment carries the same share ``∫L = A(T)/n`` (the paper's stability-balanced grid).
* ``uniform`` — ``t_k = T (1 − k/n)``.
* ``karras`` — EDM spacing ``σ_i = (σ_max^{1/ρ} + i/(n−1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ`` of the OU
  noise-to-signal ratio ``σ(t) = sqrt(e^{2βt} − 1)``, mapped back by ``t = ln(1 + σ²)/(2β)``, plus 0.
* ``logsnr`` — uniform in ``λ(t) = −ln(e^{2βt} − 1)`` between ``t = T`` and ``t_min``, plus 0.

All return a :class:`~distillplan.schedules.TimeGrid` with exact endpoints. The step times of an RK4
teacher (:data:`TEACHER_GRIDS`) are equal steps or :func:`geometric_nodes` down to :func:`stiff_floor`.
"""

from __future__ import annotations

import numpy as np

from ..errors import DistillPlanError, check_int_at_least, check_int_range, check_positive
from ..schedules import TimeGrid
from .model import IsotropicMixture, OUProcess
from .stability import cumulative_stability, cumulative_stability_of, mean_diameter

__all__ = [
    "MAX_SEGMENTS",
    "GRID_KINDS",
    "DEFAULT_SIGMA_MIN",
    "uniform_grid",
    "stability_grid",
    "karras_grid",
    "logsnr_grid",
    "make_grid",
    "segment_stability",
    "TEACHER_GRIDS",
    "geometric_nodes",
    "stiff_floor",
]

GRID_KINDS = ("stability", "uniform", "karras", "logsnr")
TEACHER_GRIDS = ("uniform", "geometric")
"""How an RK4 teacher spaces its steps: equal steps (the papers) or geometric in t (stable through t → 0)."""
DEFAULT_SIGMA_MIN = 0.002  # EDM's σ_min; also the default lower end of the log-SNR grid
_MAX_BISECTIONS = 1100  # enough to reach float64 resolution for any t in [0, T]
MAX_SEGMENTS = 10_000
"""Most segments n of a grid (the stability grid's bisection holds n points; the table prints n rows)."""


def uniform_grid(n: int, horizon: float) -> TimeGrid:
    """``t_k = T (1 − k/n)``, k = 0..n."""
    n = check_int_range("n", n, 1, MAX_SEGMENTS)
    horizon = check_positive("horizon", horizon)
    times = horizon * (1.0 - np.arange(n + 1) / n)
    return _finish(times, horizon, "uniform")


def stability_grid(mixture: IsotropicMixture, process: OUProcess, n: int) -> TimeGrid:
    """Stability-balanced grid: ``A(t_{n−k}) = (k/n) A(T)`` with the closed-form A (§2.2, §3).

    A is inverted by vectorised bisection to float64 resolution (A is strictly increasing when
    D0 > 0 or σ0 ≠ 1). For σ0 = 1 this is ``t = −ln(1 − j(1 − e^{−2βT}))/(2β)``, j = k/n.
    """
    n = check_int_range("n", n, 1, MAX_SEGMENTS)
    beta, sigma0, horizon = process.beta, mixture.sigma0, process.horizon
    d0 = mean_diameter(mixture.means)
    total = float(cumulative_stability_of(horizon, beta, sigma0, d0))
    if not total > 0:
        raise DistillPlanError(
            "mixture", "has zero stability coordinate A(T) (sigma0 = 1 and all means equal); use another grid kind")
    targets = total * np.arange(n - 1, 0, -1) / n  # interior points, decreasing
    lo, hi = np.zeros_like(targets), np.full_like(targets, horizon)
    for _ in range(_MAX_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if np.all((mid == lo) | (mid == hi)):  # no float64 left between lo and hi
            break
        below = cumulative_stability_of(mid, beta, sigma0, d0) < targets
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    times = np.concatenate([[horizon], 0.5 * (lo + hi), [0.0]])
    if not np.all(np.diff(times) < 0):
        k = int(np.argmax(np.diff(times) >= 0))
        raise DistillPlanError("n", f"{n} segments is too many for this mixture: A(t) is flat to float64 precision "
                                    f"near t = {times[k]:.6g}, so two grid points coincide; use fewer segments")
    return _finish(times, horizon, "stability")


def karras_grid(process: OUProcess, n: int, rho: float = 7.0, sigma_min: float = DEFAULT_SIGMA_MIN) -> TimeGrid:
    """EDM (Karras et al.) spacing of ``σ(t) = sqrt(e^{2βt} − 1)`` from ``σ(T)`` to ``σ_min``, plus t = 0."""
    n = check_int_range("n", n, 1, MAX_SEGMENTS)
    rho = check_positive("rho", rho)
    sigma_min = check_positive("sigma_min", sigma_min)
    horizon = process.horizon
    sigma_max = float(process.noise_to_signal(horizon))
    if not sigma_min < sigma_max:
        raise DistillPlanError("sigma_min", f"must be < sigma(T) = {sigma_max:g}, got {sigma_min:g}")
    if n == 1:
        return _finish(np.array([horizon, 0.0]), horizon, "karras")
    ramp = np.arange(n) / (n - 1)
    # convex combination: exact at both ends even when σ_max^{1/ρ} dwarfs σ_min^{1/ρ} (large β·T)
    sigmas = ((1.0 - ramp) * sigma_max ** (1 / rho) + ramp * sigma_min ** (1 / rho)) ** rho
    times = np.concatenate([process.time_of_noise_to_signal(sigmas), [0.0]])
    return _finish(times, horizon, "karras")


def logsnr_grid(process: OUProcess, n: int, t_min: float | None = None) -> TimeGrid:
    """Uniform in ``λ(t) = −ln(e^{2βt} − 1)`` from ``t = T`` to ``t_min``, plus t = 0.

    ``t_min`` defaults to the time where ``σ(t) = 0.002`` (EDM's σ_min), ``ln(1 + 0.002²)/(2β)``.
    """
    n = check_int_range("n", n, 1, MAX_SEGMENTS)
    horizon = process.horizon
    if t_min is None:
        t_min = float(process.time_of_noise_to_signal(DEFAULT_SIGMA_MIN))
    t_min = check_positive("t_min", t_min)
    if not t_min < horizon:
        raise DistillPlanError("t_min", f"must be < horizon = {horizon:g}, got {t_min:g}")
    if n == 1:
        return _finish(np.array([horizon, 0.0]), horizon, "logsnr")
    lam = np.linspace(process.log_snr(horizon), process.log_snr(t_min), n)
    times = np.concatenate([process.time_of_log_snr(lam), [0.0]])
    return _finish(times, horizon, "logsnr")


def make_grid(kind: str, n: int, process: OUProcess, mixture: IsotropicMixture | None = None,
              **options) -> TimeGrid:
    """Build a grid of ``kind`` in :data:`GRID_KINDS`; ``options`` go to the builder (rho, sigma_min, t_min)."""
    if kind not in GRID_KINDS:
        raise DistillPlanError("kind", f"unknown grid kind {kind!r}; choose from {list(GRID_KINDS)}")
    if kind == "stability":
        if mixture is None:
            raise DistillPlanError("mixture", "is required for the stability grid")
        return stability_grid(mixture, process, n, **options)
    if kind == "uniform":
        return uniform_grid(n, process.horizon, **options)
    if kind == "karras":
        return karras_grid(process, n, **options)
    return logsnr_grid(process, n, **options)


def segment_stability(grid, mixture: IsotropicMixture, process: OUProcess) -> np.ndarray:
    """Per-segment stability share ``∫_{t_k}^{t_{k−1}} L = A(t_{k−1}) − A(t_k)``, shape ``(n,)``.

    A is non-decreasing, so every share is ≥ 0: where A has saturated to float64 precision (tiny σ0,
    large β·T) the difference of two rounded values is clipped to +0 (never negative, never −0).
    """
    if not isinstance(grid, TimeGrid):
        grid = TimeGrid(np.asarray(grid, dtype=np.float64))
    shares = -np.diff(cumulative_stability(grid.times, mixture, process))
    return np.where(shares > 0, shares, 0.0)


def _finish(times: np.ndarray, horizon: float, kind: str) -> TimeGrid:
    times = np.array(times, dtype=np.float64)
    times[0], times[-1] = horizon, 0.0
    return TimeGrid(times, kind=kind)


def geometric_nodes(t_from: float, steps: int, floor: float) -> np.ndarray:
    """``steps + 1`` decreasing times: ``steps`` geometric from ``t_from`` down to ``floor``, then 0.

    Near ``t = 0`` the PF velocity's rate on directions orthogonal to the means is ``≈ β/s_t²`` with
    ``s_t² ≈ σ0² + 2βt``, so a stable RK4 step must shrink with ``t``: a grid geometric in ``t`` keeps
    ``h·β/s_t²`` bounded all the way to ``floor ≪ σ0²/(2β)`` (see :func:`stiff_floor`), after which
    ``s_t`` no longer changes and one step to 0 is exact to ``O(floor·β/σ0²)``.
    """
    t_from = check_positive("t_from", t_from)
    steps = check_int_at_least("steps", steps, 2)
    floor = check_positive("floor", floor)
    if floor >= t_from:
        raise DistillPlanError("floor", f"must be < t_from={t_from:g}, got {floor:g}")
    return np.r_[np.geomspace(t_from, floor, steps), 0.0]


def stiff_floor(sigma0: float, beta: float, t_from: float) -> float:
    """The last nonzero node of an accurate geometric teacher: ``min(10⁻²·σ0²/(2β), 10⁻³·t_from)``."""
    return min(1e-2 * check_positive("sigma0", sigma0) ** 2 / (2.0 * check_positive("beta", beta)),
               1e-3 * check_positive("t_from", t_from))
