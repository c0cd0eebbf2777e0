"""Small mixtures shared by the training tests (float64 references, tiny float32 training)."""

from __future__ import annotations

import numpy as np
import pytest

from distillplan.mixture import IsotropicMixture, OUProcess


@pytest.fixture
def small_mixture() -> IsotropicMixture:
    """d = 3, K = 4, unequal weights, σ0 = 0.6: exercises every term of the closed forms."""
    rng = np.random.default_rng(7)
    return IsotropicMixture(rng.uniform(0.2, 1.0, 4), rng.uniform(-2.0, 2.0, (4, 3)), 0.6)


@pytest.fixture
def process() -> OUProcess:
    return OUProcess(beta=5.0, horizon=1.0)

