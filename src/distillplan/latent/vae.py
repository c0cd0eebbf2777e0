"""A small VAE for the latent studies, trained with an SSIM + MSE + L1 reconstruction loss and a KL term.

* :func:`ssim` / :func:`ms_ssim`: structural similarity with a Gaussian window (Wang et al. 2004;
  multi-scale, Wang et al. 2003, over as many scales as the image size allows);
* :class:`VAE`: an MLP (small images, e.g. 8×8 digits) or a strided-conv encoder/decoder (images
  whose sides are divisible by 2^levels, e.g. 64×64 CelebA), Gaussian posterior, sigmoid decoder;
* :func:`fit_vae` trains one; :func:`load_or_train_vae` does so only when no weights for the same
  config and data are cached on disk (:mod:`distillplan.nn.cache`; key = sha256 of the config and the
  data fingerprint).

Per image, loss = recon_scale · N_pix · (w_mse·MSE + w_l1·L1 + w_ssim·(1 − MS-SSIM)) + β · KL(q(z|x) ‖ N(0, I)).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import DistillPlanError
from ..nn.cache import cache_file, load_state, save_state
from ..nn.fit import TrainSettings, minibatches, train
from ..nn.streams import global_stream, make_generator
from .config import VAEConfig
from ..nn.runtime import resolve_device

__all__ = [
    "MS_SSIM_WEIGHTS", "VAE", "VAEConfig", "TrainedVAE", "decode", "encode_means", "evaluate_vae", "fit_vae",
    "load_or_train_vae", "ms_levels", "ms_ssim", "ssim", "vae_loss",
]

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Scale weights of MS-SSIM (Wang, Simoncelli & Bovik 2003), finest scale first."""

# ----------------------------------------------------------------------------------- SSIM


def _fit_window(height: int, width: int, win_size: int, sigma: float) -> tuple[int, float]:
    """Shrink the window to the image (odd size ≤ min side), scaling σ with it."""
    win = min(win_size, height, width)
    if win % 2 == 0:
        win -= 1
    return max(win, 1), sigma * max(win, 1) / win_size


def _blur_matrix(size: int, win: int, sigma: float, dtype, device) -> torch.Tensor:
    """(size − win + 1, size) matrix of the valid convolution with the normalised 1-d Gaussian window."""
    g = torch.exp(-((torch.arange(win, dtype=torch.float64) - (win - 1) / 2) ** 2) / (2 * sigma**2))
    g = g / g.sum()
    out = size - win + 1
    m = torch.zeros(out, size, dtype=torch.float64)
    for i in range(out):
        m[i, i:i + win] = g
    return m.to(dtype=dtype, device=device)


def _ssim_maps(x: torch.Tensor, y: torch.Tensor, win: int, sigma: float, data_range: float):
    """Per-image mean SSIM and mean contrast-structure term cs, each of shape (N,).

    The five local statistics are blurred together by the separable Gaussian window, written as
    two matrix products (G_h · X · G_wᵀ: a valid convolution, cheaper than conv2d on small images).
    """
    n = x.shape[0]
    gh = _blur_matrix(x.shape[-2], win, sigma, x.dtype, x.device)
    gw = _blur_matrix(x.shape[-1], win, sigma, x.dtype, x.device)
    stats = gh @ torch.cat([x, y, x * x, y * y, x * y], dim=0) @ gw.T
    mx, my, exx, eyy, exy = stats.split(n, dim=0)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    sxx = exx - mx * mx
    syy = eyy - my * my
    sxy = exy - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    return (lum * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise DistillPlanError("images", f"need two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")


def ssim(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0, win_size: int = 11, sigma: float = 1.5,
         reduction: str = "mean") -> torch.Tensor:
    """SSIM with a Gaussian window (11, σ = 1.5; shrunk to fit small images), valid convolution.

    ``reduction='none'`` gives one value per image. SSIM(x, x) = 1.
    """
    _check_pair(x, y)
    win, sg = _fit_window(x.shape[-2], x.shape[-1], win_size, sigma)
    val, _ = _ssim_maps(x, y, win, sg, data_range)
    return val.mean() if reduction == "mean" else val


def ms_levels(height: int, width: int, win_size: int = 11, max_levels: int = len(MS_SSIM_WEIGHTS)) -> int:
    """How many MS-SSIM scales fit: the coarsest scale must still hold the window (at least 1)."""
    levels = 1
    while levels < max_levels and min(height, width) // 2**levels >= win_size:
        levels += 1
    return levels


def ms_ssim(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0, win_size: int = 11, sigma: float = 1.5,
            weights=MS_SSIM_WEIGHTS, reduction: str = "mean") -> torch.Tensor:
    """Multi-scale SSIM over :func:`ms_levels` scales (2× average pooling between scales, weights
    renormalised over the scales used); one scale is plain :func:`ssim`. Negative cs are clamped."""
    _check_pair(x, y)
    levels = ms_levels(x.shape[-2], x.shape[-1], win_size, len(weights))
    if levels == 1:
        return ssim(x, y, data_range=data_range, win_size=win_size, sigma=sigma, reduction=reduction)
    w = torch.tensor(weights[:levels], dtype=x.dtype, device=x.device)
    w = w / w.sum()
    out = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    for level in range(levels):
        win, sg = _fit_window(x.shape[-2], x.shape[-1], win_size, sigma)
        full, cs = _ssim_maps(x, y, win, sg, data_range)
        term = full if level == levels - 1 else cs
        out = out * term.clamp_min(1e-6) ** w[level]
        if level < levels - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return out.mean() if reduction == "mean" else out


# ----------------------------------------------------------------------------------- model


def conv_levels(height: int, width: int) -> int:
    """Number of stride-2 levels of the conv VAE: down to ≥ 4 pixels, at most 4; 0 if it does not fit."""
    levels = 0
    while levels < 4 and height % 2 ** (levels + 1) == 0 and width % 2 ** (levels + 1) == 0 \
            and min(height, width) // 2 ** (levels + 1) >= 4:
        levels += 1
    return levels


def pick_arch(arch: str, shape: tuple[int, int, int]) -> str:
    _, h, w = shape
    fits = conv_levels(h, w) >= 2
    if arch == "auto":
        return "conv" if fits and min(h, w) >= 16 else "mlp"
    if arch == "conv" and not fits:
        raise DistillPlanError("vae_arch", f"conv needs image sides divisible by 4 with >= 16 pixels, got {h}x{w}")
    return arch


class VAE(nn.Module):
    """Gaussian-posterior VAE on images (C, H, W) in [0, 1]: ``encode`` -> (μ, log σ²), ``decode`` -> image."""

    def __init__(self, shape: tuple[int, int, int], latent_dim: int, arch: str = "auto", width: int = 256):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.latent_dim = int(latent_dim)
        self.arch = pick_arch(arch, self.shape)
        c, h, w = self.shape
        if self.arch == "mlp":
            d_in = c * h * w
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d_in, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU())
            self.to_stats = nn.Linear(width, 2 * latent_dim)
            self.decoder = nn.Sequential(nn.Linear(latent_dim, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                         nn.Linear(width, d_in), nn.Unflatten(1, self.shape))
        else:
            levels = conv_levels(h, w)
            chans = [max(width // 2 ** (levels - 1 - i), 8) for i in range(levels)]
            enc, prev = [], c
            for ch in chans:
                enc += [nn.Conv2d(prev, ch, 4, stride=2, padding=1), nn.GroupNorm(min(8, ch), ch), nn.SiLU()]
                prev = ch
            hb, wb = h // 2**levels, w // 2**levels
            enc.append(nn.Flatten())
            self.encoder = nn.Sequential(*enc)
            self.to_stats = nn.Linear(prev * hb * wb, 2 * latent_dim)
            dec: list[nn.Module] = [nn.Linear(latent_dim, prev * hb * wb), nn.Unflatten(1, (prev, hb, wb))]
            for ch in reversed(chans[:-1]):
                dec += [nn.SiLU(), nn.ConvTranspose2d(prev, ch, 4, stride=2, padding=1), nn.GroupNorm(min(8, ch), ch)]
                prev = ch
            dec += [nn.SiLU(), nn.ConvTranspose2d(prev, prev, 4, stride=2, padding=1), nn.SiLU(),
                    nn.Conv2d(prev, c, 3, padding=1)]
            self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats = self.to_stats(self.encoder(x))
        mu, logvar = stats.chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return self.decode(mu + eps * torch.exp(0.5 * logvar)), mu, logvar


def vae_loss(model: VAE, x: torch.Tensor, config: VAEConfig, generator: torch.Generator | None = None):
    """Mean over the batch of recon + β·KL (see the module docstring); also returns the parts."""
    recon, mu, logvar = model(x, generator)
    n_pix = x[0].numel()
    mse = ((recon - x) ** 2).flatten(1).mean(1)
    l1 = (recon - x).abs().flatten(1).mean(1)
    sim = ms_ssim(recon, x, reduction="none") if config.ssim_weight > 0 else torch.ones_like(mse)
    rec = config.recon_scale * n_pix * (config.mse_weight * mse + config.l1_weight * l1 + config.ssim_weight * (1 - sim))
    kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(1)
    loss = (rec + config.beta * kl).mean()
    parts = {k: v.detach().mean().item() for k, v in (("mse", mse), ("l1", l1), ("ssim", sim), ("kl", kl))}
    return loss, parts


# ----------------------------------------------------------------------------------- training


def _make_model(shape, config: VAEConfig) -> VAE:
    with global_stream("init", config.seed):
        return VAE(shape, config.latent_dim, config.arch, config.width)


def fit_vae(images: np.ndarray, config: VAEConfig) -> tuple[VAE, dict]:
    """Train a VAE on ``images`` (N, C, H, W) in [0, 1] for ``config.train_steps`` steps of the one training
    loop (:func:`distillplan.nn.train`; AdamW, lr cosine-decayed to lr/10, no clip); batches and the
    reparameterisation noise come from the stream ``("data", seed)``. Returns ``(model, metrics)``, eval mode."""
    if images.ndim != 4:
        raise DistillPlanError("dataset", f"the VAE needs images (N, C, H, W), got shape {images.shape}")
    device = resolve_device(config.device)
    model = _make_model(images.shape[1:], config).to(device)
    start = time.perf_counter()
    if config.train_steps > 0:
        gen = make_generator("data", config.seed, device=device)
        draw = minibatches(torch.tensor(np.asarray(images, dtype=np.float32), device=device), config.batch, gen)

        def step_loss(step: int) -> torch.Tensor:
            return vae_loss(model, draw(), config, gen)[0].reshape(1)

        train(model, step_loss, TrainSettings(config.train_steps, config.batch, config.lr, grad_clip=None, lr_floor=0.1))
    model.eval()
    metrics = evaluate_vae(model, images)
    metrics["train_s"] = time.perf_counter() - start
    return model, metrics


@torch.no_grad()
def evaluate_vae(model: VAE, images: np.ndarray, batch: int = 512) -> dict:
    """Reconstruction (from the posterior mean) MSE and SSIM over ``images``."""
    device = next(model.parameters()).device
    mse, sim, n = 0.0, 0.0, 0
    for i in range(0, len(images), batch):
        x = torch.tensor(images[i:i + batch], dtype=torch.float32, device=device)
        rec = model.decode(model.encode(x)[0])
        mse += float(((rec - x) ** 2).mean(dim=(1, 2, 3)).sum())
        sim += float(ssim(rec, x, reduction="none").sum())
        n += len(x)
    return {"recon_mse": mse / n, "recon_ssim": sim / n}


@torch.no_grad()
def encode_means(model: VAE, images: np.ndarray, batch: int = 512) -> np.ndarray:
    """Posterior means μ(x), float32 (N, latent_dim)."""
    device = next(model.parameters()).device
    out = [model.encode(torch.tensor(images[i:i + batch], dtype=torch.float32, device=device))[0].cpu()
           for i in range(0, len(images), batch)]
    return torch.cat(out).numpy()


@torch.no_grad()
def decode(model: VAE, latents: np.ndarray, batch: int = 512) -> np.ndarray:
    """Decoded images, float32 (N, C, H, W) in [0, 1]."""
    device = next(model.parameters()).device
    out = [model.decode(torch.tensor(latents[i:i + batch], dtype=torch.float32, device=device)).cpu()
           for i in range(0, len(latents), batch)]
    return torch.cat(out).numpy()


@dataclass
class TrainedVAE:
    """A VAE loaded from the cache (``cached=True``) or trained now, with its cache key and metrics."""

    model: VAE
    key: str
    path: Path
    cached: bool
    metrics: dict = field(default_factory=dict)


_CACHE_VERSION = 2  # 2: named random streams and the one training loop


def load_or_train_vae(images: np.ndarray, config: VAEConfig, *, data_fingerprint: str, cache_dir=None) -> TrainedVAE:
    """The VAE for (``config``, data): from ``cache_dir`` when present, else :func:`fit_vae` and store it."""
    shape = tuple(int(s) for s in images.shape[1:])
    payload: dict[str, Any] = {"v": _CACHE_VERSION, "config": config.cache_payload(), "data": data_fingerprint,
                               "shape": list(shape)}
    key, path = cache_file(cache_dir, "vae", payload)
    device = resolve_device(config.device)
    state = load_state(path, device)
    if state is not None and state.get("key") == key:
        model = _make_model(shape, config).to(device)
        model.load_state_dict(state["state_dict"])
        model.eval()
        return TrainedVAE(model, key, path, True, dict(state.get("metrics", {})))
    model, metrics = fit_vae(images, config)
    save_state(path, {"key": key, "state_dict": model.state_dict(), "metrics": metrics, "payload": json.dumps(payload)})
    return TrainedVAE(model, key, path, False, metrics)
