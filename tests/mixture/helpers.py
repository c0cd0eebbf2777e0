"""Small builders shared by the mixture (paper 2) tests."""

from __future__ import annotations

import numpy as np

from distillplan.mixture import IsotropicMixture

#: Mean diameter of the paper's means (torch seed 0, K = 20, d = 64) as recorded by the authors.
PAPER_D0 = 40.99732208251953


def two_point_mixture(diameter: float, sigma0: float, dim: int = 1) -> IsotropicMixture:
    """Two equal-weight means ±(D/2) e_1: a mixture whose diameter is exactly ``diameter``."""
    means = np.zeros((2, dim))
    means[:, 0] = [diameter / 2, -diameter / 2]
    return IsotropicMixture.equal_weights(means, sigma0)


def random_mixture(rng: np.random.Generator, components: int, dim: int, sigma0: float) -> IsotropicMixture:
    """Random weights in [0.2, 1] and means in [-3, 3]^d."""
    return IsotropicMixture(rng.uniform(0.2, 1.0, components), rng.uniform(-3, 3, (components, dim)), sigma0)
