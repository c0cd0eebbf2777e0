"""Grids in several processes' own times, shared by the export tests."""

from functools import cache

import numpy as np

from distillplan.mixture import IsotropicMixture, OUProcess, stability_grid
from distillplan.models import EDM, OUVP, CosineVP, DiscreteVP, RectifiedFlow

LABELS = ("discrete-vp", "discrete-vp-fractional", "cosine-vp", "ou", "edm", "rectified-flow", "rectified-flow-full")


@cache
def ou_times() -> np.ndarray:
    """An 8-segment stability grid of a two-component mixture under the OU process (β = 5, T = 1), 1 → 0."""
    mix = IsotropicMixture.equal_weights(np.array([[-3.0, 0.0], [3.0, 0.0]]), 1.0)
    return stability_grid(mix, OUProcess(5.0, 1.0), 8).times


@cache
def ddpm() -> DiscreteVP:
    """DDPM linear-β, N = 1000 (diffusers' default training table)."""
    return DiscreteVP.from_betas("linear", 1e-4, 0.02, 1000)


def ddpm_steps() -> np.ndarray:
    """Integer training steps spaced like the stability grid: round(999 t / T) = 999, 208, 138, …, 13, 0."""
    return np.round(999.0 * ou_times() / ou_times()[0])


def ddpm_fractional() -> np.ndarray:
    """Fractional training-step times with the stability grid's log-SNR (ends at 999 and at t_min = 0)."""
    inner = ddpm().time_of_log_snr(OUVP(5.0, 1.0, 0.0).log_snr(ou_times()[1:-1]))
    return np.concatenate([[ddpm().horizon], inner, [0.0]])


def process_grid(label: str):
    """(process, grid) for a label of :data:`LABELS`, the grid ending at the process's t_min."""
    u = ou_times() / ou_times()[0]  # 1 → 0, stability-like spacing
    if label == "discrete-vp":
        return ddpm(), ddpm_steps()
    if label == "discrete-vp-fractional":
        return ddpm(), ddpm_fractional()
    if label == "cosine-vp":
        p = CosineVP()
        return p, p.t_min + (p.horizon - p.t_min) * u
    if label == "ou":
        return OUVP(5.0, 1.0, 0.0), ou_times()
    if label == "edm":
        p = EDM()
        return p, p.t_min + (p.horizon - p.t_min) * u**3
    if label == "rectified-flow":  # stops short of pure noise, where sigma/alpha is infinite
        return RectifiedFlow(), 0.98 * u
    if label == "rectified-flow-full":
        return RectifiedFlow(), u
    raise KeyError(label)
