"""A user's ``.npy`` array: images ((N, H, W), (N, C, H, W) or (N, H, W, C)) or latents ((N, d))."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DistillPlanError
from .dataset import Dataset, check_images, check_latents

__all__ = ["load_npy", "as_images"]


def as_images(spec: str, arr: np.ndarray) -> np.ndarray:
    """Bring an image array to (N, C, H, W) in [0, 1].

    (N, H, W) is greyscale; a 4-d array is channels-first when axis 1 has 1 or 3 entries, else
    channels-last when the last axis does. Integer arrays with values above 1 are divided by 255.
    """
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[1] not in (1, 3):
            if arr.shape[3] in (1, 3):
                arr = arr.transpose(0, 3, 1, 2)
            else:
                raise DistillPlanError(
                    "dataset", f"{spec}: a 4-d image array needs 1 or 3 channels on axis 1 or 3, got shape {arr.shape}"
                )
    else:
        raise DistillPlanError("dataset", f"{spec}: expected latents (N, d) or images (N, H, W) / (N, C, H, W), "
                                          f"got shape {arr.shape}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise DistillPlanError("dataset", f"{spec}: integer images must lie in 0..255, got {arr.min()}..{arr.max()}")
        arr = arr.astype(np.float32) / (255.0 if arr.size and arr.max() > 1 else 1.0)
    return check_images(spec, arr)


def load_npy(path, limit: int | None = None) -> Dataset:
    """Load ``path`` (``np.load``, no pickles): a 2-d array is latents, 3-d or 4-d is images."""
    file = Path(path).expanduser()
    spec = f"npy:{path}"
    if not file.is_file():
        raise DistillPlanError("dataset", f"{spec}: no such file")
    try:
        arr = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DistillPlanError("dataset", f"{spec}: not a readable .npy array ({str(exc).splitlines()[0]})") from None
    if not isinstance(arr, np.ndarray):
        raise DistillPlanError("dataset", f"{spec}: expected one array (.npy), got {type(arr).__name__}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise DistillPlanError("dataset", f"{spec}: expected a real numeric array, got dtype {arr.dtype}")
    if limit:
        arr = arr[:limit]
    if arr.ndim == 2:
        return Dataset(spec, check_latents(spec, arr.astype(np.float64)))
    return Dataset(spec, as_images(spec, arr))
