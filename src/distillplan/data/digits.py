"""scikit-learn's bundled handwritten digits: 1797 greyscale 8×8 images (ships with the package)."""

from __future__ import annotations

import numpy as np

from .dataset import Dataset, check_images

__all__ = ["load_digits"]


def load_digits(limit: int | None = None) -> Dataset:
    """The digits as (N, 1, 8, 8) float32 in [0, 1] (pixel values 0..16 divided by 16)."""
    from sklearn.datasets import load_digits as _sk_digits

    images = _sk_digits().images.astype(np.float32) / 16.0
    if limit:
        images = images[:limit]
    return Dataset("digits", check_images("digits", images[:, None]))
