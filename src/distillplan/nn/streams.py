"""Deterministic per-purpose seeds and ``torch.Generator`` s derived from a run's seed.

Every random stream of a training run (each student's initialisation, each segment's training
data, the evaluation samples) gets its own generator, seeded by hashing a tuple of integers with
numpy's ``SeedSequence``. A stream therefore depends only on its own key, never on the order in
which other streams were used, so training students one by one or as one batch draws the same
numbers.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import check_int_at_least

__all__ = ["derive_seed", "make_generator", "STREAM_INIT", "STREAM_DATA", "STREAM_LOCAL", "STREAM_EVAL"]

# Stream tags (the first entry of every key), so two purposes never share a stream.
STREAM_INIT = 1
STREAM_DATA = 2
STREAM_LOCAL = 3
STREAM_EVAL = 4


def derive_seed(*key: int) -> int:
    """A 63-bit seed from a tuple of non-negative integers (``SeedSequence(key)`` entropy mixing)."""
    values = [check_int_at_least("seed", k, 0) for k in key]
    state = np.random.SeedSequence(values).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


def make_generator(*key: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with :func:`derive_seed` of ``key``."""
    return torch.Generator(device=device).manual_seed(derive_seed(*key))
