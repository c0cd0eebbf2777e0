"""Images to latents: a data set encoded by the cached VAE, or a latents file read as it is.

The encoder is :data:`~distillplan.latent.config.DEFAULT_ENCODER` (also the VAE of the ``latents`` study's
quick preset), so ``recommend --data digits`` and ``study latents`` share one cached VAE.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DistillPlanError
from ..io import read_array
from .config import DEFAULT_ENCODER, VAEConfig

__all__ = ["DEFAULT_IMAGE_SIZE", "encode_dataset", "load_latents"]

DEFAULT_IMAGE_SIZE = 64
"""Side length CelebA images are resized to."""

_LATENT_SUFFIXES = (".npy", ".txt", ".csv")
_DATASET_PREFIXES = ("npy:", "folder:", "celeba:")


def load_latents(spec: str) -> tuple[np.ndarray, str]:
    """``(latents (n, d) float64, description)`` from a file (.npy/.txt/.csv of shape (n, d)) or from an
    image data set (``digits``, ``patches``, ``folder:PATH``, ``npy:PATH`` of images, ``celeba:ROOT``)
    encoded by :func:`encode_dataset`. A .npy of more than two axes is taken as images."""
    path = Path(spec)
    if path.suffix.lower() in _LATENT_SUFFIXES and not spec.startswith(_DATASET_PREFIXES):
        arr = read_array(path, "data")
        if arr.ndim <= 2:
            return arr, f"latents from {path.name}"
        spec = f"npy:{spec}"
    return encode_dataset(spec)


def encode_dataset(spec: str, encoder: VAEConfig = DEFAULT_ENCODER, image_size: int = DEFAULT_IMAGE_SIZE,
                   cache_dir: str | None = None) -> tuple[np.ndarray, str]:
    """Load an image data set and encode it to the VAE's posterior means (trained on first use, then cached)."""
    from ..data.spec import load_dataset
    from . import vae as vae_mod

    try:
        ds = load_dataset(spec, image_size=image_size)
    except DistillPlanError as exc:
        raise DistillPlanError("data", exc.message) from None
    if ds.is_latent:
        return ds.data.astype(np.float64), f"latents {ds.name}"
    trained = vae_mod.load_or_train_vae(ds.data, encoder, data_fingerprint=ds.fingerprint, cache_dir=cache_dir)
    mu = vae_mod.encode_means(trained.model, ds.data).astype(np.float64)
    how = "cached VAE" if trained.cached else "VAE trained now"
    return mu, f"{ds.name} images ({ds.data.shape[0]}) encoded to {mu.shape[1]} latents by the {how}"
