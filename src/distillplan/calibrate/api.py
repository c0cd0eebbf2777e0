"""``calibrate``: measure a trained field's stiffness profile along its own trajectories and balance a grid.

Steps: N noises from ``field.prior`` (stream ``("noise", seed, "calibrate")``); RK4 trajectories from the
horizon to ``t_min`` (:mod:`.trajectories`), measuring at each of the M profile times the chosen profile
(:mod:`.profiles`; power-iteration starts from ``("probe", seed, "calibrate-power")``); the stability
coordinate, the balanced grid and the bootstrap bands (:mod:`.stability`).

Cost, in forward-pass equivalents of one sample (:func:`calibration_cost`): the trajectories take
``4·substeps·(M − 1)`` velocity evaluations per trajectory; the Jacobian profile takes per point one
forward pass (the vjp's linearisation) plus, per power iteration, a jvp (≈ :data:`JVP_COST` forward passes)
and a vjp pullback (≈ :data:`VJP_COST`); the acceleration profile takes 3 evaluations per point. So the
Jacobian calibration costs ≈ ``N·M·(4·substeps + 1 + 4k)``, at most — early stopping can use fewer than k.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import DistillPlanError, check_choice, check_int_range, check_range, check_seed
from ..models.field import VelocityField
from ..nn.streams import make_generator
from .coordinate import ProfileCoordinate
from .profiles import (ITERS_RANGE, PROFILE_KINDS, TOL_RANGE, acceleration_norms, difference_steps, jacobian_norms,
                       profile_density)
from .result import Calibration, CalibrationSettings, ProfileSummary
from .stability import QUANTILE_RANGE, aggregate_curve, balanced_grid, bootstrap_bands, trajectory_stability
from .trajectories import DEFAULT_SUBSTEPS, SUBSTEPS_RANGE, draw_noise, walk

__all__ = ["SAMPLES_RANGE", "POINTS_RANGE", "SEGMENTS_RANGE", "BOOTSTRAP_RANGE", "MAX_PROFILE_VALUES", "JVP_COST",
           "VJP_COST", "CalibrationCost", "calibration_cost", "calibrate"]

SAMPLES_RANGE = (2, 65_536)
"""Trajectories N."""
POINTS_RANGE = (8, 4_096)
"""Profile points M."""
SEGMENTS_RANGE = (1, 10_000)
"""Grid segments n."""
BOOTSTRAP_RANGE = (0, 100_000)
"""Bootstrap resamples B (0: no bands)."""
MAX_PROFILE_VALUES = 2**21
"""Most ``N·M``: the quadrature holds a few float64 arrays of ``5·N·M`` values (≈ 84 MB each at the limit)."""
JVP_COST = 2.0
"""Forward-pass equivalents of one jvp (primal and tangent)."""
VJP_COST = 2.0
"""Forward-pass equivalents of one vjp pullback (a backward pass)."""


@dataclass(frozen=True)
class CalibrationCost:
    """Estimated forward-pass equivalents (one sample through the field = 1): ``trajectories`` and ``profile``."""

    trajectories: float
    profile: float

    @property
    def total(self) -> float:
        return self.trajectories + self.profile

    def line(self) -> str:
        """One line for a CLI: ``≈ 1.2e+05 forward-pass equivalents (trajectories …, profile …)``."""
        return (f"≈ {self.total:.3g} forward-pass equivalents (trajectories {self.trajectories:.3g}, "
                f"profile {self.profile:.3g})")


def calibration_cost(field: VelocityField, samples: int, points: int, iters: int, profile: str = "jacobian",
                     substeps: int = DEFAULT_SUBSTEPS) -> CalibrationCost:
    """Upper estimate of :func:`calibrate`'s work (module docstring); arguments checked as there."""
    _check_field(field)
    samples, points, iters, profile, substeps = _check_sizes(samples, points, iters, profile, substeps)
    trajectories = float(samples) * (points - 1) * 4 * substeps
    if profile == "jacobian":
        per_point = 1.0 + iters * (JVP_COST + VJP_COST)
    else:
        per_point = 3.0
    return CalibrationCost(trajectories, float(samples) * points * per_point)


def calibrate(field: VelocityField, segments: int, samples: int = 64, points: int = 64, iters: int = 8,
              profile: str = "jacobian", quantile: float | None = None, seed: int = 0, bootstrap: int = 200,
              progress: Callable[[int, int], None] | None = None, *, tol: float = 1e-3,
              substeps: int = DEFAULT_SUBSTEPS) -> Calibration:
    """Measure ``field``'s profile on ``samples`` trajectories at ``points`` profile times and return the
    ``segments``-segment grid balancing its stability coordinate (module docstring).

    ``profile``: ``jacobian`` (ρ = ||∂v/∂x||₂ by ``iters`` power iterations, stopping early at relative
    change ``tol``) or ``acceleration`` (ρ = √||dv/dt||). ``quantile``: None balances the mean ``Â`` over
    trajectories, q ∈ [0, 1] its pointwise q-quantile. ``bootstrap``: resamples for the 5–95 % bands (0:
    none). ``progress(done, total)`` is called after each profile point (total = ``points``).
    """
    _check_field(field)
    segments = check_int_range("segments", segments, *SEGMENTS_RANGE)
    samples, points, iters, profile, substeps = _check_sizes(samples, points, iters, profile, substeps)
    if quantile is not None:
        quantile = check_range("quantile", quantile, *QUANTILE_RANGE)
    seed = check_seed("seed", seed)
    bootstrap = check_int_range("bootstrap", bootstrap, *BOOTSTRAP_RANGE)
    if progress is not None and not callable(progress):
        raise DistillPlanError("progress", f"must be callable as progress(done, total), got {type(progress).__name__}")
    tol = check_range("tol", tol, *TOL_RANGE)

    start = time.perf_counter()
    times, _ = ProfileCoordinate.of(field.process).nodes(points)
    noise = draw_noise(field, samples, seed)
    power = make_generator("probe", seed, "calibrate-power")
    steps = difference_steps(times, field.dtype)
    norms = np.empty((samples, points))
    iterations = np.zeros(points, dtype=np.int64)
    unconverged = np.zeros(points, dtype=np.int64)
    for j, x in walk(field, noise, times, substeps):
        column = x[:, None]
        if profile == "jacobian":
            result = jacobian_norms(field, column, times[j:j + 1], iters, tol, power)
            norms[:, j], iterations[j], unconverged[j] = result.norms[:, 0], result.iterations[0], result.unconverged[0]
        else:
            norms[:, j] = acceleration_norms(field, column, times[j:j + 1], steps[j:j + 1])[:, 0]
        if progress is not None:
            progress(j + 1, points)
    rho = profile_density(profile, norms)

    stability = trajectory_stability(field.process, times, rho)
    curve = aggregate_curve(stability, quantile)
    if not curve.total > 0:
        what = "||dv/dx||" if profile == "jacobian" else "||dv/dt||"
        raise DistillPlanError("field", f"its measured {profile} profile {what} is zero along every trajectory, so "
                                        f"the stability coordinate A(horizon) is 0 and no grid balances it; use "
                                        f"another grid kind (uniform, log-SNR)")
    grid = balanced_grid(curve, segments, kind=f"calibrated-{profile}")
    a_band = grid_band = None
    if bootstrap > 0:
        a_band, grid_band = bootstrap_bands(stability, segments, quantile, bootstrap, seed)
    settings = CalibrationSettings(samples, points, iters, tol, substeps, profile, quantile, seed, bootstrap, segments)
    return Calibration(times=times, rho=rho, summary=ProfileSummary.of(rho), A_trajectories=stability.A,
                       A_hat=curve.values[::-1].copy(), A_total=curve.total, A_band=a_band, grid=grid,
                       grid_band=grid_band, settings=settings, iterations=iterations, unconverged=unconverged,
                       process=field.process.config(), seconds=time.perf_counter() - start, curve=curve)


def _check_field(field) -> None:
    if not isinstance(field, VelocityField):
        raise DistillPlanError("field", f"must be a VelocityField, got {type(field).__name__}")


def _check_sizes(samples, points, iters, profile, substeps) -> tuple:
    samples = check_int_range("samples", samples, *SAMPLES_RANGE)
    points = check_int_range("points", points, *POINTS_RANGE)
    if samples * points > MAX_PROFILE_VALUES:
        raise DistillPlanError("samples", f"samples * points must be at most {MAX_PROFILE_VALUES} "
                                          f"({samples} * {points} = {samples * points}); use fewer of either")
    iters = check_int_range("iters", iters, *ITERS_RANGE)
    profile = check_choice("profile", profile, PROFILE_KINDS, "profile kind")
    substeps = check_int_range("substeps", substeps, *SUBSTEPS_RANGE)
    return samples, points, iters, profile, substeps
