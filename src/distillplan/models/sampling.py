"""A deterministic sampler for ε-prediction models trained on a discrete VP table ᾱ_k (k = 0..N−1): DDIM, η = 0.

DDIM (Song, Meng & Ermon 2021, eq. 12 with σ_t = 0) steps from training step t to an earlier step s by

    x̂₀ = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t,         x_s = √ᾱ_s x̂₀ + √(1 − ᾱ_s) ε̂,                      (1)

with ε̂ = ε_θ(x_t, t). The S steps visit t_0 = N − 1 > t_1 > … > t_{S−1} = 0 (rounded, evenly spaced:
:func:`ddim_timesteps`); the last step goes to ᾱ = 1, i.e. returns x̂₀ at t = 0. With ``clip = c`` each
x̂₀ is clamped to [−c, c] and ε̂ recomputed from it, ε̂ ← (x_t − √ᾱ_t x̂₀)/√(1 − ᾱ_t), so (1) stays
consistent (DDPM's clipping of the predicted image for data in [−1, 1]); ``clip=None`` integrates the
plain probability-flow discretisation.

The sampler draws no random numbers: the caller passes the starting noise x_{N−1}.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from ..errors import DistillPlanError, check_finite_array, check_int_at_least, check_int_range, check_positive

__all__ = ["EpsModel", "ddim_timesteps", "ddim_sample"]

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``eps_model(x, t) -> ε̂``: x of shape (B, ...), t an int64 tensor (B,) of training steps."""


def ddim_timesteps(train_steps: int, steps: int) -> np.ndarray:
    """The S = ``steps`` training steps DDIM visits, descending from N − 1 to 0: ``round(linspace(N−1, 0, S))``
    (distinct because their spacing (N−1)/(S−1) is at least 1); S = 1 visits N − 1 only."""
    n = check_int_at_least("train_steps", train_steps, 1)
    s = check_int_range("steps", steps, 1, n)
    return np.round(np.linspace(n - 1, 0, s)).astype(np.int64)


@torch.no_grad()
def ddim_sample(eps_model: EpsModel, alphas_bar, noise: torch.Tensor, steps: int = 100, *,
                clip: float | None = 1.0, batch: int = 1024) -> torch.Tensor:
    """Integrate (1) from ``noise`` (x at t = N − 1, shape (n, ...)) to x̂₀; returns a tensor like ``noise``.

    ``alphas_bar``: the training table ᾱ_k, k = 0..N−1 (float64 coefficients); ``batch`` rows go through
    the model at a time."""
    ab = check_finite_array("alphas_bar", alphas_bar, positive=True)
    if np.any(ab >= 1.0) or np.any(np.diff(ab) >= 0):
        raise DistillPlanError("alphas_bar", "must lie in (0, 1), strictly decreasing")
    if clip is not None:
        check_positive("clip", clip)
    times = ddim_timesteps(ab.size, steps)
    batch = check_int_at_least("batch", batch, 1)
    out = []
    for start in range(0, noise.shape[0], batch):
        x = noise[start:start + batch]
        for i, t in enumerate(times):
            a_t = float(ab[t])
            a_s = float(ab[times[i + 1]]) if i + 1 < len(times) else 1.0
            eps = eps_model(x, torch.full((x.shape[0],), int(t), dtype=torch.int64, device=x.device))
            x0 = (x - math.sqrt(1.0 - a_t) * eps) / math.sqrt(a_t)
            if clip is not None:
                x0 = x0.clamp(-clip, clip)
                eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1.0 - a_t)
            x = x0 if a_s == 1.0 else math.sqrt(a_s) * x0 + math.sqrt(1.0 - a_s) * eps
        out.append(x)
    return torch.cat(out)
