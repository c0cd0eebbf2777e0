"""Analytic velocity fields for the calibration tests (torch, float64 unless asked otherwise)."""

from __future__ import annotations

import numpy as np
import torch

from distillplan.mixture import IsotropicMixture
from distillplan.models import EDM, OUVP, FunctionField, RectifiedFlow


def mixture_velocity(mixture: IsotropicMixture, beta: float):
    """Exact PF velocity of an isotropic mixture under OU (σ_∞ = 1), as ``fn(x, t)`` in torch:

    v = −β(x + ∇log p_t),  ∇log p_t = −(x − m̄)/s_t²,  m̄ = Σ_k γ_k e^{−βt} μ_k,
    γ = softmax_k(log π_k − ||x − e^{−βt} μ_k||²/(2 s_t²)),  s_t² = σ0² − (1 − σ0²)·expm1(−2βt).
    """
    means = torch.tensor(np.array(mixture.means), dtype=torch.float64)
    log_weights = torch.log(torch.tensor(np.array(mixture.weights), dtype=torch.float64))
    s02 = mixture.sigma0 ** 2

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        s2 = s02 - (1.0 - s02) * np.expm1(-2.0 * beta * t)
        m = np.exp(-beta * t) * means.to(x.dtype)
        sq = ((x[:, None, :] - m[None]) ** 2).sum(-1)
        gamma = torch.softmax(log_weights.to(x.dtype) - sq / (2.0 * s2), dim=1)
        return -beta * (x - (x - gamma @ m) / s2)

    return velocity


def mixture_field(mixture: IsotropicMixture, beta: float = 5.0, horizon: float = 1.0,
                  dtype: torch.dtype = torch.float64) -> FunctionField:
    """The exact mixture velocity as a field of the process ``OUVP(beta, horizon, t_min=0)``."""
    return FunctionField(mixture_velocity(mixture, beta), OUVP(beta, horizon, 0.0), (mixture.dim,), dtype=dtype,
                         label="exact-mixture")


def single_component(sigma0: float, dim: int = 2) -> IsotropicMixture:
    """One isotropic component at the origin: ``J = −β(1 − 1/s_t²) I`` for every x."""
    return IsotropicMixture.equal_weights(np.zeros((1, dim)), sigma0)


def ou_variance(t, c: float, beta: float):
    """Variance of OU data N(0, c²) at time t: ``e^{−2βt} c² + 1 − e^{−2βt}``."""
    return c * c - (1.0 - c * c) * np.expm1(-2.0 * beta * np.asarray(t, dtype=np.float64))


def rectified_gaussian_field(c: float, dim: int = 2) -> FunctionField:
    """Rectified flow of data N(0, c²): ``v = E[ε − x0 | x] = (t − (1 − t)c²) x / V(t)``, ``V = (1 − t)²c² + t²``."""

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        var = (1.0 - t) ** 2 * c * c + t * t
        return (t - (1.0 - t) * c * c) / var * x

    return FunctionField(velocity, RectifiedFlow(0.0, 1.0), (dim,), label="rectified-gaussian")


def rectified_gaussian_stability(t, c: float):
    """``A(t) = ∫_0^t |V'|/(2V) = ½|ln V(t)/V(0)|`` split at the minimum of V, ``t* = c²/(1 + c²)``."""
    t = np.asarray(t, dtype=np.float64)
    var = (1.0 - t) ** 2 * c * c + t * t
    t_star = c * c / (1.0 + c * c)
    v_star = (1.0 - t_star) ** 2 * c * c + t_star ** 2
    before = 0.5 * np.log(c * c / var)
    after = 0.5 * np.log(c * c / v_star) + 0.5 * np.log(var / v_star)
    return np.where(t <= t_star, before, after)


def linear_field(matrix: np.ndarray, process=None, offset: np.ndarray | None = None,
                 dtype: torch.dtype = torch.float64) -> FunctionField:
    """``v(x, t) = A x + t b``: ``∂v/∂x = A`` and ``dv/dt = A v + b``."""
    a = torch.tensor(matrix, dtype=dtype)
    b = torch.zeros(matrix.shape[0], dtype=dtype) if offset is None else torch.tensor(offset, dtype=dtype)

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        return x @ a.T + t * b

    return FunctionField(velocity, process or OUVP(5.0, 1.0, 0.0), (matrix.shape[0],), dtype=dtype, label="linear")


def edm_gaussian_field(c: float, dim: int = 2) -> FunctionField:
    """EDM (x = x0 + tε) with data N(0, c²): ``v = E[ε | x] = t x/(c² + t²)``, so ``||∂v/∂x|| = t/(c² + t²)``."""

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        return t / (c * c + t * t) * x

    return FunctionField(velocity, EDM(), (dim,), label="edm-gaussian")


def edm_gaussian_stability(t, c: float, t_min: float):
    """``A(t) = ∫_{t_min}^t u/(c² + u²) du = ½ ln((c² + t²)/(c² + t_min²))``."""
    t = np.asarray(t, dtype=np.float64)
    return 0.5 * np.log((c * c + t * t) / (c * c + t_min * t_min))
