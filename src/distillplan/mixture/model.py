"""Isotropic Gaussian mixtures under the OU forward process (paper 2, arXiv 2606.03820, §1.2–1.5).

Data ``p_0 = Σ_k π_k N(μ_k, σ0² I)``; forward SDE ``dX = −βX dt + sqrt(2β) dW`` (σ_∞ = 1), data at
``t = 0``, noise at ``t = T``. The time-``t`` marginal is again an isotropic mixture,

    p_t = Σ_k π_k N(m_k(t), s_t² I),   m_k(t) = e^{−βt} μ_k,   s_t² = e^{−2βt} σ0² + (1 − e^{−2βt}),

so every time-``t`` quantity (density, responsibilities, score, PF velocity and its Jacobian) is
closed form. All of it is float64 and vectorised over points ``x`` of shape ``(n, d)``; a single
point of shape ``(d,)`` is accepted too and gives un-batched output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from ..errors import DistillPlanError, check_finite_array, check_int_at_least, check_positive, check_range

__all__ = [
    "SIGMA0_RANGE",
    "BETA_RANGE",
    "HORIZON_RANGE",
    "BETA_HORIZON_RANGE",
    "IsotropicMixture",
    "OUProcess",
    "sample_marginal",
    "log_density",
    "responsibilities",
    "score",
    "pf_velocity",
    "velocity_jacobian",
]

# Ranges where the float64 closed forms hold (checked by sweeping each value over 1e-300..1e300):
SIGMA0_RANGE = (1e-8, 1e4)
"""Component std σ0 (relative to σ_∞ = 1). s_t² = σ0² + (1 − σ0²)(1 − e^{−2βt}) cancels to a relative
error of about σ0²·1e-16 (1e-8 at σ0 = 1e4, all of it near 1e8); A(t) carries D0²/(8σ0²), finite for
the smallest σ0 and every BOX_RANGE, MAX_DIM. Inside, the stability grid balances its segments to 1e-13."""
BETA_RANGE = (1e-6, 1e6)
"""OU rate β."""
HORIZON_RANGE = (1e-6, 1e6)
"""Horizon T (the noise end)."""
BETA_HORIZON_RANGE = (1e-3, 300.0)
"""β·T: above 300, e^{2βT} overflows the Karras and log-SNR grids (and every point of a uniform grid
but the first has α = e^{−βt} ≈ 0); below 1e-3 the horizon is not noise (σ(T) falls toward EDM's
σ_min = 0.002, where the Karras and log-SNR grids cannot start)."""


@dataclass(frozen=True, eq=False)
class IsotropicMixture:
    """``Σ_k π_k N(μ_k, σ0² I_d)``: weights ``(K,)`` (> 0, normalised here), means ``(K, d)``, σ0 in
    :data:`SIGMA0_RANGE`."""

    weights: np.ndarray
    means: np.ndarray
    sigma0: float
    _centre: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        means = check_finite_array("means", self.means, ndim=2).copy()
        weights = check_finite_array("weights", self.weights, positive=True)
        if weights.size != means.shape[0]:
            raise DistillPlanError(
                "weights", f"needs one entry per mean: {weights.size} weights for {means.shape[0]} means")
        weights = weights / weights.sum()
        sigma0 = check_range("sigma0", self.sigma0, *SIGMA0_RANGE)
        centre = weights @ means
        for arr in (weights, means, centre):
            arr.setflags(write=False)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "sigma0", sigma0)
        object.__setattr__(self, "_centre", centre)

    @classmethod
    def equal_weights(cls, means, sigma0: float) -> "IsotropicMixture":
        """The paper's data model: ``π_k = 1/K``."""
        means = check_finite_array("means", means, ndim=2)
        return cls(np.full(means.shape[0], 1.0 / means.shape[0]), means, sigma0)

    @property
    def components(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    # ------------------------------------------------------------------ densities
    def sample(self, n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
        """``n`` draws, shape ``(n, d)``: component k ~ π, then ``μ_k + σ0 ε``, ε ~ N(0, I)."""
        n = check_int_at_least("n", n, 1)
        rng = _generator(seed)
        labels = rng.choice(self.components, size=n, p=self.weights)
        return self.means[labels] + self.sigma0 * rng.standard_normal((n, self.dim))

    def component_logits(self, x) -> np.ndarray:
        """``log π_k − ||x − μ_k||² / (2σ0²)``, shape ``(n, K)`` (distances via a centred Gram form)."""
        pts, _ = self.points(x)
        xc, mc = pts - self._centre, self.means - self._centre
        sq = (xc * xc).sum(1)[:, None] - 2.0 * xc @ mc.T + (mc * mc).sum(1)[None, :]
        return np.log(self.weights)[None, :] - np.maximum(sq, 0.0) / (2.0 * self.sigma0**2)

    def rms_norm(self) -> float:
        """``√E||x||² = √(Σ_k π_k ||μ_k||² + d σ0²)``: the root-mean-square norm of a draw."""
        return float(np.sqrt(self.weights @ np.sum(self.means**2, axis=1) + self.dim * self.sigma0**2))

    def log_density(self, x) -> np.ndarray:
        """``log p(x) = logsumexp_k(log π_k − ||x − μ_k||²/(2σ0²)) − (d/2) log(2π σ0²)``."""
        pts, single = self.points(x)
        out = logsumexp(self.component_logits(pts), axis=1) - 0.5 * self.dim * np.log(2 * np.pi * self.sigma0**2)
        return out[0] if single else out

    def responsibilities(self, x) -> np.ndarray:
        """``γ_k(x) = softmax_k(log π_k − ||x − μ_k||²/(2σ0²))``, shape ``(n, K)``, computed stably."""
        pts, single = self.points(x)
        logits = self.component_logits(pts)
        gamma = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
        return gamma[0] if single else gamma

    def posterior_mean(self, x) -> np.ndarray:
        """``m̄(x) = Σ_k γ_k(x) μ_k``, shape ``(n, d)``."""
        pts, single = self.points(x)
        out = self.responsibilities(pts) @ self.means
        return out[0] if single else out

    def score(self, x) -> np.ndarray:
        """``∇ log p(x) = −(x − m̄(x)) / σ0²``, shape ``(n, d)``."""
        pts, single = self.points(x)
        out = -(pts - self.posterior_mean(pts)) / self.sigma0**2
        return out[0] if single else out

    def means_covariance(self, x) -> np.ndarray:
        """``Cov_γ(μ) = Σ_k γ_k (μ_k − m̄)(μ_k − m̄)ᵀ``, shape ``(n, d, d)`` (PSD by construction)."""
        pts, single = self.points(x)
        gamma = self.responsibilities(pts)
        dev = self.means[None, :, :] - (gamma @ self.means)[:, None, :]  # (n, K, d)
        weighted = np.sqrt(gamma)[:, :, None] * dev
        out = np.swapaxes(weighted, 1, 2) @ weighted
        return out[0] if single else out

    def points(self, x, name: str = "x") -> tuple[np.ndarray, bool]:
        """``(pts, single)``: ``x`` of shape ``(n, d)`` or ``(d,)`` as a finite ``(n, d)`` array, and whether it
        was one point (results are then returned unbatched); bad input raises naming ``name``."""
        arr = check_finite_array(name, x, ndim=None)
        single = arr.ndim == 1
        pts = arr[None, :] if single else arr
        if pts.ndim != 2 or pts.shape[1] != self.dim:
            raise DistillPlanError(name, f"must have shape (n, {self.dim}) or ({self.dim},), got {arr.shape}")
        return pts, single

    def __repr__(self) -> str:
        return f"IsotropicMixture(components={self.components}, dim={self.dim}, sigma0={self.sigma0:g})"


@dataclass(frozen=True)
class OUProcess:
    """OU forward process ``dX = −βX dt + sqrt(2β) σ_∞ dW`` on ``[0, horizon]``.

    β, the horizon T and β·T must lie in :data:`BETA_RANGE`, :data:`HORIZON_RANGE` and
    :data:`BETA_HORIZON_RANGE`.

    Only ``σ_∞ = 1`` is supported: the velocity ``v = −β(x + ∇log p_t)``, the bound L(t) and the
    closed-form A(t) all assume it (as do all of the paper's experiments).
    """

    beta: float
    horizon: float
    sigma_inf: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", check_range("beta", self.beta, *BETA_RANGE))
        object.__setattr__(self, "horizon", check_range("horizon", self.horizon, *HORIZON_RANGE))
        low, high = BETA_HORIZON_RANGE
        if not low <= self.beta * self.horizon <= high:
            raise DistillPlanError("horizon", f"beta * horizon must be in [{low:g}, {high:g}] (the noise end "
                                              f"alpha_T = exp(-beta * horizon)), got {self.beta * self.horizon:g}")
        if check_positive("sigma_inf", self.sigma_inf) != 1.0:
            raise DistillPlanError("sigma_inf", f"only sigma_inf = 1 is supported by the closed forms, got {self.sigma_inf!r}")
        object.__setattr__(self, "sigma_inf", 1.0)

    def signal(self, t):
        """``α_t = e^{−βt}``."""
        return np.exp(-self.beta * check_times(t))

    def variance(self, t, sigma0: float):
        """``s_t² = e^{−2βt} σ0² + (1 − e^{−2βt}) = σ0² + (1 − σ0²)(1 − e^{−2βt})`` (expm1 for small t)."""
        t = check_times(t)
        s0 = check_positive("sigma0", sigma0) ** 2
        return s0 - (1.0 - s0) * np.expm1(-2.0 * self.beta * t)

    def noise_to_signal(self, t):
        """``σ(t) = sqrt(e^{2βt} − 1)``, the noise-to-signal ratio of ``X_t`` given ``X_0``."""
        return np.sqrt(np.expm1(2.0 * self.beta * check_times(t)))

    def time_of_noise_to_signal(self, sigma):
        """Inverse of :meth:`noise_to_signal`: ``t = ln(1 + σ²) / (2β)``."""
        sigma = check_finite_array("sigma", sigma, ndim=None)
        return np.log1p(sigma * sigma) / (2.0 * self.beta)

    def log_snr(self, t):
        """``λ(t) = −ln(e^{2βt} − 1)`` (``+∞`` at ``t = 0``)."""
        t = check_times(t)
        with np.errstate(divide="ignore"):
            return -np.log(np.expm1(2.0 * self.beta * t))

    def time_of_log_snr(self, lam):
        """Inverse of :meth:`log_snr`: ``t = ln(1 + e^{−λ}) / (2β)``."""
        lam = check_finite_array("log_snr", lam, ndim=None)
        return np.logaddexp(0.0, -lam) / (2.0 * self.beta)

    def marginal(self, mixture: IsotropicMixture, t: float) -> IsotropicMixture:
        """``p_t = Σ_k π_k N(e^{−βt} μ_k, s_t² I)`` as an :class:`IsotropicMixture`."""
        t = _scalar_time(t)
        return IsotropicMixture(mixture.weights, np.exp(-self.beta * t) * mixture.means,
                                float(np.sqrt(self.variance(t, mixture.sigma0))))


# ---------------------------------------------------------------------- time-t functions
def sample_marginal(mixture: IsotropicMixture, process: OUProcess, t: float, n: int,
                    seed: int | np.random.Generator = 0) -> np.ndarray:
    """``n`` exact draws from ``p_t``, shape ``(n, d)``."""
    return process.marginal(mixture, t).sample(n, seed)


def log_density(x, mixture: IsotropicMixture, process: OUProcess, t: float) -> np.ndarray:
    """``log p_t(x)``, shape ``(n,)`` (e.g. NLL under ``p_0`` at ``t = 0``)."""
    return process.marginal(mixture, t).log_density(x)


def responsibilities(x, mixture: IsotropicMixture, process: OUProcess, t: float) -> np.ndarray:
    """``γ_k(x, t) = softmax_k(log π_k − ||x − m_k(t)||² / (2 s_t²))``, shape ``(n, K)``."""
    return process.marginal(mixture, t).responsibilities(x)


def score(x, mixture: IsotropicMixture, process: OUProcess, t: float) -> np.ndarray:
    """``∇ log p_t(x) = −(x − m̄(x, t)) / s_t²``, ``m̄ = Σ_k γ_k m_k(t)``; shape ``(n, d)``."""
    return process.marginal(mixture, t).score(x)


def pf_velocity(x, mixture: IsotropicMixture, process: OUProcess, t: float) -> np.ndarray:
    """Probability-flow velocity ``v(x, t) = −β (x + ∇ log p_t(x))`` (σ_∞ = 1), shape ``(n, d)``."""
    marginal = process.marginal(mixture, t)
    pts, single = marginal.points(x)
    out = -process.beta * (pts + marginal.score(pts))
    return out[0] if single else out


def velocity_jacobian(x, mixture: IsotropicMixture, process: OUProcess, t: float) -> np.ndarray:
    """``J_v(x, t) = −β [(1 − 1/s_t²) I + Cov_γ(m(t)) / s_t⁴]``, shape ``(n, d, d)`` (symmetric).

    From ``∇_x m̄ = Cov_γ(m)/s_t²``, hence ``∇² log p_t = −I/s_t² + Cov_γ(m)/s_t⁴`` (§2.1).
    """
    marginal = process.marginal(mixture, t)
    s2 = marginal.sigma0**2
    cov = marginal.means_covariance(x)
    jac = cov / (s2 * s2)
    idx = np.arange(marginal.dim)
    jac[..., idx, idx] += 1.0 - 1.0 / s2
    return -process.beta * jac


# ---------------------------------------------------------------------- validation helpers
def check_times(t, name: str = "t"):
    """Validate times: finite and >= 0; returns a float for scalars, else a float64 array."""
    arr = check_finite_array(name, t, ndim=None)
    if np.any(arr < 0):
        raise DistillPlanError(name, f"times must be >= 0, got min {arr.min():g}")
    return float(arr) if arr.ndim == 0 else arr


def _scalar_time(t) -> float:
    if np.ndim(t) != 0:
        raise DistillPlanError("t", f"must be a single time, got shape {np.shape(t)}")
    return check_times(t)


def _generator(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int_at_least("seed", seed, 0))
