"""Settings of the latent-diffusion family (torch-free, so configs validate without importing torch).

Every field but ``device`` is part of a trained model's cache key (:meth:`cache_payload`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import DistillPlanError, check_int_at_least, check_nonnegative, check_positive

__all__ = ["VAEConfig", "DenoiserConfig", "DEFAULT_ENCODER"]


@dataclass(frozen=True)
class VAEConfig:
    """How to build and train the VAE.

    ``arch``: ``mlp``, ``conv`` or ``auto`` (conv when both image sides are ≥ 16 and divisible by 8).
    ``width``: MLP hidden width; for conv, the channels of the deepest layer (halved per level up).
    ``train_steps`` optimiser steps of ``batch`` images at learning rate ``lr`` (cosine-decayed to lr/10).
    """

    latent_dim: int = 16
    arch: str = "auto"
    width: int = 256
    train_steps: int = 3000
    batch: int = 128
    lr: float = 1e-3
    beta: float = 1.0
    recon_scale: float = 10.0
    mse_weight: float = 1.0
    l1_weight: float = 0.16
    ssim_weight: float = 0.84
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_int_at_least("latent_dim", self.latent_dim, 1)
        if self.arch not in ("auto", "mlp", "conv"):
            raise DistillPlanError("vae_arch", f"must be auto, mlp or conv, got {self.arch!r}")
        check_int_at_least("width", self.width, 8)
        check_int_at_least("train_steps", self.train_steps, 0)
        check_int_at_least("batch", self.batch, 1)
        check_positive("lr", self.lr)
        for name in ("beta", "recon_scale", "mse_weight", "l1_weight", "ssim_weight"):
            check_nonnegative(name, getattr(self, name))
        check_int_at_least("seed", self.seed, 0)

    def cache_payload(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "device"}


@dataclass(frozen=True)
class DenoiserConfig:
    """The latent teacher: an MLP of ``depth`` layers of ``hidden`` units with a sinusoidal time embedding of
    ``emb_dim``, trained for ``train_steps`` optimiser steps of ``batch`` latents (cosine-decayed lr)."""

    hidden: int = 256
    depth: int = 3
    emb_dim: int = 32
    train_steps: int = 3000
    batch: int = 256
    lr: float = 1e-3
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_int_at_least("teacher_hidden", self.hidden, 4)
        check_int_at_least("teacher_depth", self.depth, 1)
        check_int_at_least("emb_dim", self.emb_dim, 2)
        check_int_at_least("teacher_train_steps", self.train_steps, 0)
        check_int_at_least("teacher_batch", self.batch, 1)
        check_positive("teacher_lr", self.lr)
        check_int_at_least("seed", self.seed, 0)

    def cache_payload(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "device"}


DEFAULT_ENCODER = VAEConfig(latent_dim=16, arch="auto", width=256, train_steps=2000, batch=64, lr=1e-3)
"""The VAE that encodes image data sets for ``recommend`` and the ``latents`` study's quick preset."""
