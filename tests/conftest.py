"""Shared fixtures."""

import numpy as np
import pytest

from distillplan.mixture import IsotropicMixture, OUProcess


@pytest.fixture
def one_thread():
    """Run the test with torch on one thread (small tensors; keeps timings and reductions stable)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def small_mixture() -> IsotropicMixture:
    """d = 3, K = 4, unequal weights, σ0 = 0.6: exercises every term of the closed forms."""
    rng = np.random.default_rng(7)
    return IsotropicMixture(rng.uniform(0.2, 1.0, 4), rng.uniform(-2.0, 2.0, (4, 3)), 0.6)


@pytest.fixture
def process() -> OUProcess:
    return OUProcess(beta=5.0, horizon=1.0)

