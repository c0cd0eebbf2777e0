"""Greyscale patches cut from the natural photograph bundled with matplotlib (works offline).

matplotlib ships ``sample_data/grace_hopper.jpg`` (512×600 RGB); scikit-image's sample images would
need an extra dependency and ``scipy.datasets`` a download, so this source uses matplotlib's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DistillPlanError
from .dataset import Dataset, check_images

__all__ = ["load_patches", "PATCH_SOURCE", "DEFAULT_PATCHES"]

PATCH_SOURCE = "grace_hopper.jpg"
DEFAULT_PATCHES = 4096
_PATCH_SEED = 20250516  # fixed: the data set must not depend on the run's seed


def _source_image() -> np.ndarray:
    import matplotlib
    from PIL import Image

    path = Path(matplotlib.get_data_path()) / "sample_data" / PATCH_SOURCE
    if not path.is_file():
        raise DistillPlanError("dataset", f"patches: matplotlib's sample image {path} is missing")
    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def load_patches(size: int = 8, count: int | None = None) -> Dataset:
    """``count`` (default 4096) random size×size greyscale patches, (N, 1, size, size) in [0, 1].

    Patch positions come from a fixed seed, so the data set is the same in every run.
    """
    image = _source_image()
    h, w = image.shape
    if not 2 <= size <= min(h, w):
        raise DistillPlanError("dataset", f"patches: size must be between 2 and {min(h, w)}, got {size}")
    n = DEFAULT_PATCHES if not count else int(count)
    rng = np.random.default_rng(_PATCH_SEED)
    ys = rng.integers(0, h - size + 1, size=n)
    xs = rng.integers(0, w - size + 1, size=n)
    out = np.stack([image[y:y + size, x:x + size] for y, x in zip(ys, xs)])[:, None]
    return Dataset(f"patches:{size}", check_images(f"patches:{size}", out))
