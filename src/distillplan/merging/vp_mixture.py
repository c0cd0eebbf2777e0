"""An isotropic Gaussian mixture under the discrete VP teacher of paper 1: exact denoiser, DDIM steps,
and the gated-affine (branch) structure of a k-step composite. Pure numpy, float64.

Data ``x0 ~ Σ_k π_k N(μ_k, σ0² I)``, ``z_t = α_t x0 + σ_t ε`` on a :class:`~distillplan.schedules.VPSchedule`
(t = 0 data, t = T noise). The marginal is ``p_t = Σ_k π_k N(α_t μ_k, v_t I)``, ``v_t = α_t² σ0² + σ_t²``.

* Exact denoiser (posterior mean)::

      x̂0(z, t) = Σ_k γ_k(z) [μ_k + c_t (z − α_t μ_k)],   c_t = α_t σ0² / v_t,
      γ_k(z) ∝ π_k N(z; α_t μ_k, v_t I).

* DDIM step t → t−1: ``z_{t−1} = α_{t−1} x̂0 + σ_{t−1} ε̂``, ``ε̂ = (z − α_t x̂0) / σ_t``.

With the gate frozen at one component k the step is affine, ``z ↦ A_t z + B_t (1 − c_t α_t) μ_k``,
``B_t = α_{t−1} − σ_{t−1} α_t / σ_t`` and ``A_t = σ_{t−1}/σ_t + B_t c_t``, which equals the linear
teacher's ``A*_t`` (:class:`~distillplan.linear.LinearTeacher`) with ``λ = σ0²``. A k-step composite is
therefore a gated mixture of up to ``K^k`` affine branches, one per sequence of components; all
branches share the linear part ``Π A_t`` and differ only by their offsets (the components share σ0).
:func:`composite` records the dominant component ``argmax_k γ_k`` of every step and
:func:`branch_statistics` counts the sequences that carry mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ..errors import DistillPlanError, check_int_at_least
from ..schedules import VPSchedule
from ..mixture.model import IsotropicMixture

__all__ = [
    "centred",
    "coordinate_variances",
    "marginal_variance",
    "responsibilities",
    "denoise",
    "ddim_step",
    "composite",
    "branch_coefficients",
    "branch_map",
    "BranchStats",
    "branch_statistics",
    "sample_vp",
]


def centred(mixture: IsotropicMixture) -> IsotropicMixture:
    """The same mixture shifted to mean zero (means ``μ_k − Σ_j π_j μ_j``)."""
    centre = mixture.weights @ mixture.means
    return IsotropicMixture(mixture.weights, mixture.means - centre, mixture.sigma0)


def coordinate_variances(mixture: IsotropicMixture) -> np.ndarray:
    """Per-coordinate data variance ``λ_i = Σ_k π_k μ_{k,i}² − (Σ_k π_k μ_{k,i})² + σ0²`` (shape ``(d,)``):
    the diagonal Λ of the Gaussian with the mixture's covariance diagonal (the linear model's input)."""
    w, mu = mixture.weights, mixture.means
    mean = w @ mu
    return w @ (mu * mu) - mean * mean + mixture.sigma0**2


def marginal_variance(mixture: IsotropicMixture, schedule: VPSchedule, t: int) -> float:
    """``v_t = α_t² σ0² + σ_t²``: the per-component variance of ``p_t``."""
    t = _check_t(schedule, t, 0)
    return float(schedule.alphas[t] ** 2 * mixture.sigma0**2 + schedule.sigmas[t] ** 2)


def _check_t(schedule: VPSchedule, t, minimum: int) -> int:
    t = check_int_at_least("t", t, minimum)
    if t > schedule.steps:
        raise DistillPlanError("t", f"must be <= T={schedule.steps}, got {t}")
    return t


def _logits(mixture: IsotropicMixture, schedule: VPSchedule, z: np.ndarray, t: int) -> np.ndarray:
    """``log π_k + (α z·μ_k − α²|μ_k|²/2) / v_t`` (the ``|z|²`` term is common to all k and dropped)."""
    a = schedule.alphas[t]
    v = schedule.alphas[t] ** 2 * mixture.sigma0**2 + schedule.sigmas[t] ** 2
    mu = mixture.means
    return np.log(mixture.weights)[None, :] + (a * z @ mu.T - 0.5 * a * a * (mu * mu).sum(1)[None, :]) / v


def responsibilities(mixture: IsotropicMixture, schedule: VPSchedule, z, t: int) -> np.ndarray:
    """``γ_k(z) = softmax_k(log π_k − |z − α_t μ_k|² / (2 v_t))``, shape ``(n, K)``."""
    t = _check_t(schedule, t, 0)
    pts, single = mixture.points(z, "z")
    logits = _logits(mixture, schedule, pts, t)
    gamma = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    return gamma[0] if single else gamma


def denoise(mixture: IsotropicMixture, schedule: VPSchedule, z, t: int, *, return_gamma: bool = False):
    """The exact posterior mean ``x̂0(z, t) = c_t z + (1 − c_t α_t) Σ_k γ_k μ_k`` (see the module docstring)."""
    t = _check_t(schedule, t, 0)
    pts, single = mixture.points(z, "z")
    a = schedule.alphas[t]
    v = a * a * mixture.sigma0**2 + schedule.sigmas[t] ** 2
    c = a * mixture.sigma0**2 / v
    gamma = responsibilities(mixture, schedule, pts, t)
    x0 = c * pts + (1.0 - c * a) * (gamma @ mixture.means)
    if single:
        x0, gamma = x0[0], gamma[0]
    return (x0, gamma) if return_gamma else x0


def ddim_step(mixture: IsotropicMixture, schedule: VPSchedule, z, t: int, *, return_gamma: bool = False):
    """One DDIM step ``t → t−1`` with the exact denoiser: ``α_{t−1} x̂0 + σ_{t−1}(z − α_t x̂0)/σ_t``."""
    t = _check_t(schedule, t, 1)
    x0, gamma = denoise(mixture, schedule, z, t, return_gamma=True)
    pts = np.asarray(z, dtype=np.float64)
    a, s = schedule.alphas, schedule.sigmas
    eps = (pts - a[t] * x0) / s[t]
    out = a[t - 1] * x0 + s[t - 1] * eps
    return (out, gamma) if return_gamma else out


def composite(mixture: IsotropicMixture, schedule: VPSchedule, z, a: int, b: int, *, record: bool = False):
    """The exact k-step DDIM composite ``a → b`` (k = a − b).

    With ``record=True`` also returns the dominant component of every step, shape ``(n, k)``
    (column j is step ``a − j``): the branch index of each point.
    """
    a = _check_t(schedule, a, 1)
    b = check_int_at_least("b", b, 0)
    if not b < a:
        raise DistillPlanError("interval", f"need b < a, got a={a}, b={b}")
    pts, single = mixture.points(z, "z")
    dominant = []
    for t in range(a, b, -1):
        pts, gamma = ddim_step(mixture, schedule, pts, t, return_gamma=True)
        if record:
            dominant.append(np.argmax(gamma, axis=1))
    out = pts[0] if single else pts
    if not record:
        return out
    seq = np.stack(dominant, axis=1)
    return out, (seq[0] if single else seq)


def branch_coefficients(mixture: IsotropicMixture, schedule: VPSchedule, t: int) -> tuple[float, float]:
    """``(A_t, D_t)``: with the gate frozen at component k the DDIM step is ``z ↦ A_t z + D_t μ_k``,
    ``D_t = B_t (1 − c_t α_t)``; ``A_t`` equals the linear teacher's ``A*_t`` at ``λ = σ0²``."""
    t = _check_t(schedule, t, 1)
    al, sg = schedule.alphas, schedule.sigmas
    v = al[t] ** 2 * mixture.sigma0**2 + sg[t] ** 2
    c = al[t] * mixture.sigma0**2 / v
    B = al[t - 1] - sg[t - 1] * al[t] / sg[t]
    return float(sg[t - 1] / sg[t] + B * c), float(B * (1.0 - c * al[t]))


def branch_map(mixture: IsotropicMixture, schedule: VPSchedule, z, a: int, sequence) -> np.ndarray:
    """The affine branch indexed by ``sequence`` (components of steps a, a−1, …), applied to ``z``:
    the composite with every gate frozen (hard-gated). ``sequence`` is ``(k,)`` or per point ``(n, k)``."""
    a = _check_t(schedule, a, 1)
    pts, single = mixture.points(z, "z")
    seq = np.asarray(sequence)
    if seq.ndim == 1:
        seq = np.broadcast_to(seq, (pts.shape[0], seq.size))
    k = seq.shape[1]
    if k > a or k < 1:
        raise DistillPlanError("sequence", f"needs 1..{a} steps from t={a}, got {k}")
    if np.any(seq < 0) or np.any(seq >= mixture.components):
        raise DistillPlanError("sequence", f"components must lie in 0..{mixture.components - 1}")
    out = pts.copy()
    for j in range(k):
        A, D = branch_coefficients(mixture, schedule, a - j)
        out = A * out + D * mixture.means[seq[:, j]]
    return out[0] if single else out


@dataclass(frozen=True)
class BranchStats:
    """How many affine branches a set of points uses.

    ``distinct``: sequences seen; ``massive``: sequences holding at least ``threshold`` of the
    points; ``effective``: exp(entropy) of the empirical sequence distribution; ``top_mass``: mass of
    the most common sequence; ``samples``: n.
    """

    distinct: int
    massive: int
    effective: float
    top_mass: float
    samples: int
    threshold: float


def branch_statistics(sequences, threshold: float = 1e-3) -> BranchStats:
    """Count the distinct dominant-component sequences (rows of ``sequences``, shape ``(n, k)``)."""
    seq = np.asarray(sequences)
    if seq.ndim != 2 or seq.shape[0] == 0:
        raise DistillPlanError("sequences", f"must be a non-empty (n, k) array, got shape {seq.shape}")
    if not 0 <= threshold <= 1:
        raise DistillPlanError("threshold", f"must lie in [0, 1], got {threshold!r}")
    _, counts = np.unique(seq, axis=0, return_counts=True)
    p = counts / seq.shape[0]
    entropy = float(-(p * np.log(p)).sum())
    return BranchStats(int(counts.size), int(np.count_nonzero(p >= threshold)), float(np.exp(entropy)),
                       float(p.max()), int(seq.shape[0]), float(threshold))


def sample_vp(mixture: IsotropicMixture, schedule: VPSchedule, t: int, n: int,
              seed: int | np.random.Generator = 0) -> np.ndarray:
    """``n`` draws of ``z_t = α_t x0 + σ_t ε``, shape ``(n, d)``."""
    t = _check_t(schedule, t, 0)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_int_at_least("seed", seed, 0))
    x0 = mixture.sample(n, rng)
    return schedule.alphas[t] * x0 + schedule.sigmas[t] * rng.standard_normal(x0.shape)
