"""Where mixtures come from: the paper's random means, or a spherical GMM fitted to user data."""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import (DistillPlanError, check_finite_array, check_int_range, check_range,
                      check_seed)
from .model import IsotropicMixture

__all__ = ["paper_means", "paper_mixture", "fit_isotropic_mixture", "fit_seconds", "check_samples", "MAX_COMPONENTS",
           "MAX_DIM", "BOX_RANGE"]

MAX_COMPONENTS = 1000
"""Most mixture components K (the diameter D0 compares all K² pairs of means)."""
MAX_DIM = 16384
"""Largest dimension d of the paper's means (K = 1000, d = 16384: 130 MB of means, D0 in about 5 s)."""
BOX_RANGE = (1e-6, 1e6)
"""Half-width of the box the paper's means are drawn in (keeps D0²/σ0² finite over SIGMA0_RANGE)."""


def check_samples(x, name: str = "data", min_rows: int = 2) -> np.ndarray:
    """Return samples as a float64 ``(n, d)`` array, or raise naming ``name``.

    Checks: numeric, finite, two axes, at least ``min_rows`` rows, no coordinate so large that its
    variance overflows, and no constant coordinate (zero variance up to rounding) — a constant
    coordinate has no noise scale to plan for and no mixture to fit.
    """
    data = check_finite_array(name, x, ndim=None)
    if data.ndim != 2:
        raise DistillPlanError(name, f"must be an (n, d) array of samples, got shape {data.shape}")
    if data.shape[0] < min_rows:
        raise DistillPlanError(name, f"needs at least {min_rows} samples (rows), got {data.shape[0]}")
    with np.errstate(over="ignore", invalid="ignore"):
        var = data.var(axis=0)
    if not np.all(np.isfinite(var)):
        column = int(np.argmin(np.isfinite(var)))
        raise DistillPlanError(name, f"values too large: the variance of coordinate {column} overflows float64")
    floor = (8 * np.finfo(np.float64).eps * np.abs(data).max(axis=0)) ** 2
    constant = var <= floor
    if np.any(constant):
        raise DistillPlanError(name, f"{int(constant.sum())} of {data.shape[1]} coordinates are constant "
                                     f"(zero variance), e.g. coordinate {int(np.argmax(constant))}")
    return data


def paper_means(components: int = 20, dim: int = 64, seed: int = 0, box: float = 5.0) -> np.ndarray:
    """The authors' means ``μ = (U[0,1]^{K×d} · 2 − 1) · box`` drawn by torch with ``manual_seed(seed)``.

    Reproduces ``torch.manual_seed(seed); (torch.rand(K, d) * 2 - 1) * box`` bit for bit (float32,
    returned as float64) without touching torch's global generator. (20, 64, 0) has D0 = 40.99732...
    """
    import torch  # lazy: the rest of the theory package is numpy-only

    components = check_int_range("components", components, 1, MAX_COMPONENTS)
    dim = check_int_range("dim", dim, 1, MAX_DIM)
    seed = check_seed("seed", seed)
    box = check_range("box", box, *BOX_RANGE)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    mu = (torch.rand(components, dim, generator=generator) * 2 - 1) * box
    return mu.numpy().astype(np.float64)


def paper_mixture(components: int = 20, dim: int = 64, seed: int = 0, box: float = 5.0,
                  sigma0: float = 1.0) -> IsotropicMixture:
    """The equal-weight mixture ``(1/K) Σ_k N(μ_k, σ0² I)`` over :func:`paper_means` (the papers' data)."""
    return IsotropicMixture.equal_weights(paper_means(components, dim, seed, box), sigma0)


# EM time grows with rows × candidate components and varies with the iterations EM needs. Measured on
# the development machine (2 shared AMD EPYC cores, scikit-learn 1.9; 5 clusters, BIC over K = 1..10):
# 2000 × 16: 4.5 s; 20000 × 16: 81 s; 20000 × 64: 45 s; 100000 × 16: 112 s -- 2e-5..7e-5 s per row and
# candidate component.
_FIT_SECONDS_PER_ROW_COMPONENT = 6e-5


def fit_seconds(rows: int, dim: int, components: int | None = None, max_components: int = 10) -> float:
    """Rough wall time of :func:`fit_isotropic_mixture` for ``rows`` × ``dim`` samples (see the measurements above)."""
    ks = [components] if components is not None else range(1, max(1, min(max_components, rows // 2)) + 1)
    return _FIT_SECONDS_PER_ROW_COMPONENT * rows * sum(ks) * max(1.0, dim / 64)


def fit_isotropic_mixture(x, components: int | None = None, seed: int = 0,
                          max_components: int = 10) -> IsotropicMixture:
    """Fit ``Σ_k π_k N(μ_k, σ0² I)`` to data ``x`` of shape ``(n, d)``.

    scikit-learn ``GaussianMixture(covariance_type='spherical')``, then the pooled variance
    ``σ0² = Σ_k π_k σ_k²``. With ``components=None`` K is chosen by BIC over
    ``1..min(max_components, n // 2)``. ``x`` must pass :func:`check_samples` with at least ``2K`` rows.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    seed = check_seed("seed", seed)
    if components is None:
        max_components = check_int_range("max_components", max_components, 1, MAX_COMPONENTS)
        data = check_samples(x, "data", min_rows=2)
        candidates = range(1, min(max_components, data.shape[0] // 2) + 1)
    else:
        components = check_int_range("components", components, 1, MAX_COMPONENTS)
        data = check_samples(x, "data", min_rows=2 * components)
        candidates = [components]

    best, best_bic = None, np.inf
    with warnings.catch_warnings():
        # EM that stops early, or finds fewer distinct clusters than asked, still gives a usable fit:
        # BIC compares the candidates and the result is validated below.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in candidates:
            model = GaussianMixture(k, covariance_type="spherical", random_state=seed, n_init=2).fit(data)
            bic = model.bic(data) if len(candidates) > 1 else 0.0
            if bic < best_bic:
                best, best_bic = model, bic
    weights = np.asarray(best.weights_, dtype=np.float64)
    sigma0 = float(np.sqrt(weights @ np.asarray(best.covariances_, dtype=np.float64)))
    try:
        return IsotropicMixture(weights, np.asarray(best.means_, dtype=np.float64), sigma0)
    except DistillPlanError as exc:
        raise DistillPlanError("data", f"the fitted mixture is unusable: {exc.argument} {exc.message}; "
                                       "rescale the data") from None
