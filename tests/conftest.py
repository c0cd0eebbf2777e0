"""Shared fixtures."""

import pytest


@pytest.fixture
def one_thread():
    """Run the test with torch on one thread (small tensors; keeps timings and reductions stable)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
