"""Seed the global random number generators a run might touch."""

from __future__ import annotations

import random
import sys

import numpy as np

__all__ = ["seed_everything"]


def seed_everything(seed: int, *, torch: bool | None = None) -> None:
    """Seed python ``random``, numpy's legacy global RNG and torch.

    ``torch=None`` (default) seeds torch only if it is already imported: importing it costs
    seconds per worker, and a study that uses torch imports it at module level, which happens
    when a worker unpickles the study's ``run`` function, before this is called. ``torch=True``
    imports it; ``torch=False`` leaves it alone. Prefer explicit generators
    (``np.random.default_rng(seed)``, ``torch.Generator().manual_seed(seed)``) in new code;
    this only makes stray global draws reproducible.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if torch is False:
        return
    if torch is None and "torch" not in sys.modules:
        return
    try:
        import torch as _torch
    except ImportError:
        return
    _torch.manual_seed(seed)
