"""The exact DDIM teacher of a Gaussian mixture on a VP schedule, in torch (any device, any float dtype).

The torch twin of :mod:`distillplan.mixture.vp` (which holds the formulas and is the float64
reference): ``x̂0(z, t) = c_t z + (1 − c_t α_t) Σ_k γ_k(z) μ_k`` with ``c_t = α_t σ0² / v_t``,
``v_t = α_t² σ0² + σ_t²`` and ``γ = softmax_k(log π_k + (α_t z·μ_k − α_t² |μ_k|²/2) / v_t)``; the
DDIM step ``z_{t−1} = α_{t−1} x̂0 + σ_{t−1} (z − α_t x̂0) / σ_t``. :meth:`MixtureDDIM.composite`
chains steps ``a → b`` and can record the dominant component of every step (the branch index).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DistillPlanError, check_int_at_least
from ..mixture.model import IsotropicMixture
from ..schedules import VPSchedule

__all__ = ["MixtureDDIM"]


class MixtureDDIM:
    """Exact mixture denoiser and DDIM teacher for ``mixture`` on ``schedule`` (tensors on ``device``)."""

    def __init__(self, mixture: IsotropicMixture, schedule: VPSchedule, *, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32):
        self.mixture = mixture
        self.schedule = schedule
        self.device = torch.device(device)
        self.dtype = dtype
        kw = dict(device=self.device, dtype=dtype)
        self.means = torch.tensor(mixture.means, **kw)
        self.log_weights = torch.tensor(np.log(mixture.weights), **kw)
        self.half_sq_norms = 0.5 * (self.means * self.means).sum(1)
        al, sg = schedule.alphas, schedule.sigmas
        s02 = mixture.sigma0**2
        self._alpha = al.tolist()
        self._sigma = sg.tolist()
        self._v = (al**2 * s02 + sg**2).tolist()
        self._c = (al * s02 / (al**2 * s02 + sg**2)).tolist()
        self._cum_weights = torch.cumsum(torch.tensor(mixture.weights, dtype=torch.float64), 0)
        self.steps, self.dim = schedule.steps, mixture.dim

    def _check_t(self, t: int, minimum: int) -> int:
        t = check_int_at_least("t", t, minimum)
        if t > self.steps:
            raise DistillPlanError("t", f"must be <= T={self.steps}, got {t}")
        return t

    # ------------------------------------------------------------------ sampling
    def sample_x0(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` data draws ``μ_k + σ0 ε`` (k ~ π), shape ``(n, d)``."""
        u = torch.rand(n, generator=generator, device=self.device, dtype=torch.float64)
        labels = torch.searchsorted(self._cum_weights.to(self.device), u, right=True).clamp_(max=self.mixture.components - 1)
        eps = torch.randn(n, self.dim, generator=generator, device=self.device, dtype=self.dtype)
        return self.means[labels] + self.mixture.sigma0 * eps

    def sample(self, t: int, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws of ``z_t = α_t x0 + σ_t ε`` from ``p_t``, shape ``(n, d)``."""
        t = self._check_t(t, 0)
        x0 = self.sample_x0(n, generator)
        eps = torch.randn(n, self.dim, generator=generator, device=self.device, dtype=self.dtype)
        return self._alpha[t] * x0 + self._sigma[t] * eps

    # ------------------------------------------------------------------ teacher
    def logits(self, z: torch.Tensor, t: int) -> torch.Tensor:
        """Unnormalised log responsibilities ``log π_k + (α_t z·μ_k − α_t²|μ_k|²/2) / v_t``, shape ``(n, K)``."""
        a = self._alpha[t]
        return self.log_weights + (a * (z @ self.means.T) - a * a * self.half_sq_norms) / self._v[t]

    def responsibilities(self, z: torch.Tensor, t: int) -> torch.Tensor:
        return torch.softmax(self.logits(z, self._check_t(t, 0)), dim=-1)

    def denoise(self, z: torch.Tensor, t: int, return_gamma: bool = False):
        """Exact posterior mean ``E[x0 | z_t = z]``."""
        t = self._check_t(t, 0)
        gamma = torch.softmax(self.logits(z, t), dim=-1)
        c = self._c[t]
        x0 = c * z + (1.0 - c * self._alpha[t]) * (gamma @ self.means)
        return (x0, gamma) if return_gamma else x0

    def step(self, z: torch.Tensor, t: int, return_gamma: bool = False):
        """One DDIM step ``t → t−1``."""
        t = self._check_t(t, 1)
        x0, gamma = self.denoise(z, t, return_gamma=True)
        eps = (z - self._alpha[t] * x0) / self._sigma[t]
        out = self._alpha[t - 1] * x0 + self._sigma[t - 1] * eps
        return (out, gamma) if return_gamma else out

    def composite(self, z: torch.Tensor, a: int, b: int, record: bool = False):
        """The exact ``(a − b)``-step DDIM composite; with ``record`` also the dominant component of every
        step, a long tensor ``(n, a − b)`` (column j is step ``a − j``)."""
        a = self._check_t(a, 1)
        b = check_int_at_least("b", b, 0)
        if not b < a:
            raise DistillPlanError("interval", f"need b < a, got a={a}, b={b}")
        dominant = []
        for t in range(a, b, -1):
            z, gamma = self.step(z, t, return_gamma=True)
            if record:
                dominant.append(gamma.argmax(dim=-1))
        return (z, torch.stack(dominant, dim=1)) if record else z
