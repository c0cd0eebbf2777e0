"""Random streams: one ``torch.Generator`` per named purpose, derived from the run's seed and indices.

A stream is ``(purpose, *key)``: a purpose name from :data:`PURPOSES` (what the numbers are for) and a
key of integers or strings (the run's seed, a segment index, a subtree's bracket text, ...). Its seed is

    derive_seed(purpose, *key) = first 63 bits of SeedSequence([h(purpose), h(k_1), …]),

with ``h`` the identity on non-negative integers and the first 32 bits of sha256 on strings (purposes
and text keys are hashed into the SeedSequence entropy; integers enter as they are). A stream therefore
depends only on its own name and key, never on the order in which other streams were used: training n
students one by one or as one batch draws the same numbers, and adding a stream changes no other.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from ..errors import DistillPlanError, check_int_at_least

__all__ = ["PURPOSES", "derive_seed", "make_generator", "numpy_generator", "global_stream"]

PURPOSES = {
    "init": "initial weights of a student",
    "data": "training samples (inputs and noise) of a student",
    "eval": "held-out evaluation samples",
    "local-eval": "per-segment evaluation samples",
    "probe": "test points of a measurement (Jacobians, affine fits, branch counts)",
    "noise": "starting noise of samplers compared on the same draws",
    "resample": "bootstrap resamples of measured quantities",
}
"""Stream purposes and what each draws."""


def derive_seed(purpose: str, *key: int | str) -> int:
    """The 63-bit seed of stream ``(purpose, *key)`` (see the module docstring)."""
    if purpose not in PURPOSES:
        raise DistillPlanError("purpose", f"unknown stream purpose {purpose!r}; choose from {sorted(PURPOSES)}")
    entropy = [_entropy(purpose)] + [_entropy(k) if isinstance(k, str) else check_int_at_least("seed", k, 0)
                                     for k in key]
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


def make_generator(purpose: str, *key: int | str, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with :func:`derive_seed` ``(purpose, *key)``."""
    return torch.Generator(device=device).manual_seed(derive_seed(purpose, *key))


def numpy_generator(purpose: str, *key: int | str) -> np.random.Generator:
    """A numpy ``Generator`` (PCG64) seeded with :func:`derive_seed` ``(purpose, *key)``."""
    return np.random.default_rng(derive_seed(purpose, *key))


@contextmanager
def global_stream(purpose: str, *key: int | str) -> Iterator[None]:
    """Seed torch's global CPU generator with stream ``(purpose, *key)`` for the block, then restore it: for
    modules whose constructors draw with torch's default initialisation."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(purpose, *key))
        yield


def _entropy(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")
