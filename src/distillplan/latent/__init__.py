"""Latent diffusion for paper 1's real-data experiment: a VAE, a latent denoiser teacher, plan-distilled students.

* :mod:`.config` — the VAE and teacher settings (torch-free) and the default image encoder.
* :mod:`.vae` — SSIM / MS-SSIM and a small VAE (MLP or conv) with a weights cache.
* :mod:`.encode` — image data sets to latents through the cached VAE.
* :mod:`.denoiser` — a nonlinear x0-predicting teacher on latents and students distilled along a merge plan.
"""

from .config import DEFAULT_ENCODER, DenoiserConfig, VAEConfig
from .denoiser import DistillConfig, LatentDenoiser, StepStudent, distill_plan, teacher_sample
from .encode import encode_dataset, load_latents
from .vae import VAE, load_or_train_vae, ms_ssim, ssim

__all__ = [
    "DEFAULT_ENCODER", "DenoiserConfig", "DistillConfig", "LatentDenoiser", "StepStudent", "VAE", "VAEConfig",
    "distill_plan", "encode_dataset", "load_latents", "load_or_train_vae", "ms_ssim", "ssim", "teacher_sample",
]
