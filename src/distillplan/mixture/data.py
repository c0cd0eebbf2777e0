"""Where mixtures come from: the paper's random means, or a spherical GMM fitted to user data."""

from __future__ import annotations

import numpy as np

from ..errors import DistillPlanError, check_finite_array, check_int_at_least, check_positive
from .model import IsotropicMixture

__all__ = ["paper_means", "paper_mixture", "fit_isotropic_mixture"]


def paper_means(components: int = 20, dim: int = 64, seed: int = 0, box: float = 5.0) -> np.ndarray:
    """The authors' means ``μ = (U[0,1]^{K×d} · 2 − 1) · box`` drawn by torch with ``manual_seed(seed)``.

    Reproduces ``torch.manual_seed(seed); (torch.rand(K, d) * 2 - 1) * box`` bit for bit (float32,
    returned as float64) without touching torch's global generator. (20, 64, 0) has D0 = 40.99732...
    """
    import torch  # lazy: the rest of the theory package is numpy-only

    components = check_int_at_least("components", components, 1)
    dim = check_int_at_least("dim", dim, 1)
    seed = check_int_at_least("seed", seed, 0)
    box = check_positive("box", box)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    mu = (torch.rand(components, dim, generator=generator) * 2 - 1) * box
    return mu.numpy().astype(np.float64)


def paper_mixture(components: int = 20, dim: int = 64, seed: int = 0, box: float = 5.0,
                  sigma0: float = 1.0) -> IsotropicMixture:
    """The equal-weight mixture ``(1/K) Σ_k N(μ_k, σ0² I)`` over :func:`paper_means` (the papers' data)."""
    return IsotropicMixture.equal_weights(paper_means(components, dim, seed, box), sigma0)


def fit_isotropic_mixture(x, components: int | None = None, seed: int = 0,
                          max_components: int = 10) -> IsotropicMixture:
    """Fit ``Σ_k π_k N(μ_k, σ0² I)`` to data ``x`` of shape ``(n, d)``.

    scikit-learn ``GaussianMixture(covariance_type='spherical')``, then the pooled variance
    ``σ0² = Σ_k π_k σ_k²``. With ``components=None`` K is chosen by BIC over
    ``1..min(max_components, n // 2)``. Needs at least ``2K`` rows.
    """
    from sklearn.mixture import GaussianMixture

    data = check_finite_array("data", x, ndim=2)
    n = data.shape[0]
    seed = check_int_at_least("seed", seed, 0)
    if components is None:
        max_components = check_int_at_least("max_components", max_components, 1)
        candidates = range(1, min(max_components, n // 2) + 1)
        if not candidates:
            raise DistillPlanError("data", f"needs at least 2 rows to fit a mixture, got {n}")
    else:
        components = check_int_at_least("components", components, 1)
        if n < 2 * components:
            raise DistillPlanError("data", f"needs at least 2*components = {2 * components} rows, got {n}")
        candidates = [components]

    best, best_bic = None, np.inf
    for k in candidates:
        model = GaussianMixture(k, covariance_type="spherical", random_state=seed, n_init=2).fit(data)
        bic = model.bic(data) if len(candidates) > 1 else 0.0
        if bic < best_bic:
            best, best_bic = model, bic
    weights = np.asarray(best.weights_, dtype=np.float64)
    sigma0 = float(np.sqrt(weights @ np.asarray(best.covariances_, dtype=np.float64)))
    return IsotropicMixture(weights, np.asarray(best.means_, dtype=np.float64), sigma0)
