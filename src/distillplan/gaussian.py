"""Closed-form distances between Gaussians used across the package."""

from __future__ import annotations

import numpy as np

__all__ = ["w2_centred_diagonal"]


def w2_centred_diagonal(var1, var2, weights=None) -> float:
    """W2 between N(0, diag(var1)) and N(0, diag(var2)): sqrt(Σ_i w_i (√var1_i − √var2_i)²).

    ``weights`` (default 1) counts repeated coordinates.
    """
    v1 = np.asarray(var1, dtype=np.float64)
    v2 = np.asarray(var2, dtype=np.float64)
    if np.any(v1 < 0) or np.any(v2 < 0):
        raise ValueError("variances must be non-negative")
    d2 = (np.sqrt(v1) - np.sqrt(v2)) ** 2
    if weights is not None:
        d2 = d2 * np.asarray(weights, dtype=np.float64)
    return float(np.sqrt(np.sum(d2)))
