"""The exact probability-flow velocity of an isotropic Gaussian mixture under the OU process (paper 2), in torch.

With ``p_t = Σ_k π_k N(m_k, s_t² I)``, ``m_k = e^{−βt} μ_k``, ``s_t² = e^{−2βt} σ0² + 1 − e^{−2βt}``:

    γ = softmax_k(log π_k − ||x − m_k||² / (2 s_t²)),   m̄ = Σ_k γ_k m_k,
    ∇log p_t(x) = −(x − m̄)/s_t²,                       v(x, t) = −β (x + ∇log p_t(x)),

written with differentiable torch operations (float64) so ``torch.func.jvp`` / ``vjp`` run through it.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DistillPlanError
from ..mixture.model import IsotropicMixture, OUProcess, velocity_jacobian
from ..mixture.stability import lipschitz_bound
from ..nn.runtime import resolve_device
from .field import VelocityField
from .processes import OUVP

__all__ = ["MixtureField"]


class MixtureField(VelocityField):
    """``v = −β(x + ∇log p_t(x))`` for ``mixture`` under ``process`` (``OUVP(β, T, t_min=0)`` in process time)."""

    def __init__(self, mixture: IsotropicMixture, process: OUProcess, device="cpu"):
        if not isinstance(mixture, IsotropicMixture):
            raise DistillPlanError("mixture", f"must be an IsotropicMixture, got {type(mixture).__name__}")
        if not isinstance(process, OUProcess):
            raise DistillPlanError("process", f"must be an OUProcess, got {type(process).__name__}")
        self.mixture = mixture
        self.ou = process
        self.process = OUVP(process.beta, process.horizon, t_min=0.0)
        self.shape = (mixture.dim,)
        self.dtype = torch.float64
        self.device = resolve_device(str(device), "device")
        # centred means (the numpy Gram form) keep squared distances accurate far from the origin
        self._log_weights = torch.as_tensor(np.log(mixture.weights), dtype=self.dtype, device=self.device)
        self._centre = torch.as_tensor(mixture.weights @ mixture.means, dtype=self.dtype, device=self.device)
        self._means = torch.tensor(mixture.means, dtype=self.dtype, device=self.device)

    def velocity(self, x: torch.Tensor, t: float) -> torch.Tensor:
        pts, mean, s2 = self._posterior(x, t)
        v = -self.ou.beta * (pts - (pts - mean) / s2)
        return v.to(device=x.device, dtype=x.dtype)

    def epsilon(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """ε̂ = −σ_t ∇log p_t(x) = σ_t (x − m̄)/s_t² (exact, also at t = 0 where the velocity's b(t) is not)."""
        pts, mean, s2 = self._posterior(x, t)
        sigma = float(self.process.sigma(float(t)))
        return (sigma * (pts - mean) / s2).to(device=x.device, dtype=x.dtype)

    def _posterior(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor, float]:
        """``(x, m̄(x, t), s_t²)``: the points, the responsibility-weighted mean of the m_k(t), the variance."""
        t = self.process.check_times(t)
        if x.ndim != 2 or x.shape[1] != self.mixture.dim:
            raise DistillPlanError("x", f"must have shape (n, {self.mixture.dim}), got {tuple(x.shape)}")
        alpha = float(np.exp(-self.ou.beta * t))
        s2 = float(self.ou.variance(t, self.mixture.sigma0))
        pts = x.to(device=self.device, dtype=self.dtype)
        xc = pts - alpha * self._centre
        mc = alpha * (self._means - self._centre)  # m_k(t) − α·centre
        sq = (xc * xc).sum(1, keepdim=True) - 2.0 * xc @ mc.T + (mc * mc).sum(1)[None, :]
        gamma = torch.softmax(self._log_weights[None, :] - sq.clamp_min(0.0) / (2.0 * s2), dim=1)
        return pts, gamma @ (alpha * self._means), s2

    def exact_jacobian_norm(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """``||J_v(x, t)||₂`` per row, shape ``(n,)``: J is symmetric, so the largest |eigenvalue| of the
        closed form ``−β[(1 − 1/s_t²) I + Cov_γ(m)/s_t⁴]`` (float64 numpy, n·d² memory)."""
        t = self.process.check_times(t)
        jac = velocity_jacobian(x.detach().cpu().to(torch.float64).numpy(), self.mixture, self.ou, t)
        norms = np.abs(np.linalg.eigvalsh(jac)).max(axis=-1)
        return torch.as_tensor(np.atleast_1d(norms), dtype=self.dtype, device=x.device)

    def lipschitz_bound(self, t):
        """``L(t) ≥ ||J_v(x, t)||₂`` for every x (:func:`distillplan.mixture.stability.lipschitz_bound`)."""
        return lipschitz_bound(t, self.mixture, self.ou)

    def describe(self) -> dict:
        return {"source": "mixture", "process": self.process.config(), "components": self.mixture.components,
                "dim": self.mixture.dim, "sigma0": self.mixture.sigma0}
