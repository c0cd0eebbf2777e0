"""The value every loader returns, and the checks that make it one."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import DistillPlanError

__all__ = ["Dataset", "check_images", "check_latents"]

ARGUMENT = "dataset"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset: ``data`` is float32, images (N, C, H, W) in [0, 1] or latents (N, d).

    ``fingerprint`` (sha256 of shape and bytes) identifies the content, e.g. in cache keys.
    """

    name: str
    data: np.ndarray
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        data = np.ascontiguousarray(self.data, dtype=np.float32)
        if data.ndim not in (2, 4):
            raise DistillPlanError(ARGUMENT, f"{self.name}: data must be (N, C, H, W) or (N, d), got shape {data.shape}")
        data.setflags(write=False)
        digest = hashlib.sha256(repr((data.shape, str(data.dtype))).encode())
        digest.update(memoryview(data).cast("B"))
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "fingerprint", digest.hexdigest())

    @property
    def is_latent(self) -> bool:
        """True for latents (N, d): there is nothing to encode or decode."""
        return self.data.ndim == 2

    @property
    def size(self) -> int:
        return int(self.data.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one item: (C, H, W) or (d,)."""
        return tuple(int(s) for s in self.data.shape[1:])

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, shape={self.data.shape}, fingerprint={self.fingerprint[:12]})"


def _check_finite(name: str, arr: np.ndarray) -> None:
    if arr.size == 0 or arr.shape[0] == 0:
        raise DistillPlanError(ARGUMENT, f"{name} holds no data (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argwhere(bad.reshape(arr.shape[0], -1).any(axis=1))[0, 0])
        raise DistillPlanError(ARGUMENT, f"{name} contains NaN or infinite values (first in item {first})")


def check_images(name: str, images: np.ndarray) -> np.ndarray:
    """Validate images (N, C, H, W), C in {1, 3}, finite, in [0, 1]; return them as float32."""
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise DistillPlanError(ARGUMENT, f"{name}: images must be (N, C, H, W) with C = 1 or 3, got shape {arr.shape}")
    _check_finite(name, arr)
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise DistillPlanError(
            ARGUMENT, f"{name}: image values must lie in [0, 1], got min {lo:g}, max {hi:g} (latents: save an (N, d) array)"
        )
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


def check_latents(name: str, latents: np.ndarray) -> np.ndarray:
    """Validate latents (N, d) with N >= 2, finite; return them as float32."""
    arr = np.asarray(latents)
    if arr.ndim != 2:
        raise DistillPlanError(ARGUMENT, f"{name}: latents must be a 2-d array (N, d), got shape {arr.shape}")
    _check_finite(name, arr)
    if arr.shape[0] < 2:
        raise DistillPlanError(ARGUMENT, f"{name}: need at least 2 latent vectors to estimate variances, got {arr.shape[0]}")
    return arr.astype(np.float32)
