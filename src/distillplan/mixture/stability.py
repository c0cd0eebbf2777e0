"""The Lipschitz bound L(t) of the PF velocity and the cumulative stability coordinate A(t) (paper 2, §2.1–2.2).

    L(t) = β (|1 − 1/s_t²| + e^{−2βt} D0² / (4 s_t⁴)),     D0 = max_{i,j} ||μ_i − μ_j||,
    A(t) = ∫_0^t L(u) du = ½ |ln(s_t²/σ0²)| + D0² (1 − e^{−2βt}) / (8 σ0² s_t²),

valid for σ_∞ = 1. Derivation of the closed form: with e = e^{−2βt}, ``ds²/dt = 2βe(1 − σ0²)``, so
``β|1 − 1/s²| = β e |1 − σ0²| / s² = ½ |d ln s² / dt|`` integrates to ``½|ln(s_t²/σ0²)|`` (s_t² is
monotone in t), and ``d/dt [(1 − e)/s²] = 2βeσ0²/s⁴`` gives the second term. Perturbations grow by
at most the stability amplification factor ``exp(A(t) − A(s))`` from time t down to time s.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import quad
from scipy.spatial.distance import pdist

from ..errors import check_finite_array
from .model import IsotropicMixture, OUProcess, check_times

__all__ = [
    "mean_diameter",
    "lipschitz_bound",
    "cumulative_stability",
    "cumulative_stability_quadrature",
    "amplification_factor",
    "lipschitz_bound_of",
    "cumulative_stability_of",
]


def mean_diameter(means) -> float:
    """``D0 = max_{i,j} ||μ_i − μ_j||`` (0 for a single component)."""
    means = check_finite_array("means", means, ndim=2)
    return float(pdist(means).max()) if means.shape[0] > 1 else 0.0


def lipschitz_bound(t, mixture: IsotropicMixture, process: OUProcess):
    """``L(t) = β(|1 − 1/s_t²| + e^{−2βt} D0²/(4 s_t⁴)) ≥ ||J_v(x, t)||₂`` for every x; vectorised over t."""
    return lipschitz_bound_of(check_times(t), process.beta, mixture.sigma0, mean_diameter(mixture.means))


def cumulative_stability(t, mixture: IsotropicMixture, process: OUProcess):
    """Closed form ``A(t) = ½|ln(s_t²/σ0²)| + D0²(1 − e^{−2βt})/(8σ0² s_t²)``; vectorised over t."""
    return cumulative_stability_of(check_times(t), process.beta, mixture.sigma0, mean_diameter(mixture.means))


def cumulative_stability_quadrature(t, mixture: IsotropicMixture, process: OUProcess):
    """``A(t) = ∫_0^t L(u) du`` by adaptive quadrature (independent check of the closed form).

    L is nearly constant for ``u ≪ τ`` and decays like a power of u beyond the time scale
    ``τ = min(t, 1/(2β), σ0²/(2β|1 − σ0²|))`` on which s_u² leaves σ0². The substitution
    ``u = τ(e^w − 1)`` resolves both regimes, so this stays accurate for tiny σ0.
    """
    times = check_times(t)
    beta, sigma0, d0 = process.beta, mixture.sigma0, mean_diameter(mixture.means)
    flat = np.atleast_1d(times).ravel()
    out = np.array([_quadrature_one(float(ti), beta, sigma0, d0) for ti in flat])
    return float(out[0]) if np.ndim(times) == 0 else out.reshape(np.shape(times))


def amplification_factor(t_from, t_to, mixture: IsotropicMixture, process: OUProcess):
    """Stability amplification ``exp(|A(t_from) − A(t_to)|)`` of the flow map between the two times.

    Grönwall: ``||Φ(x) − Φ(y)|| ≤ exp(∫ L) ||x − y||``. Overflows to ``inf`` when the integral exceeds
    ~709; use :func:`cumulative_stability` for its logarithm.
    """
    integral = np.abs(cumulative_stability(t_from, mixture, process) - cumulative_stability(t_to, mixture, process))
    with np.errstate(over="ignore"):
        return np.exp(integral)


# ---------------------------------------------------------------------- raw-parameter forms
def lipschitz_bound_of(t, beta: float, sigma0: float, d0: float):
    """:func:`lipschitz_bound` from the raw parameters ``(β, σ0, D0)`` (no checks; ``t`` may be an array)."""
    decay = np.exp(-2.0 * beta * t)
    s2 = sigma0**2 - (1.0 - sigma0**2) * np.expm1(-2.0 * beta * t)
    # |1 − 1/s²| = |s² − 1|/s² = e |1 − σ0²| / s²  (no cancellation)
    return beta * (decay * abs(1.0 - sigma0**2) / s2 + decay * d0**2 / (4.0 * s2 * s2))


def cumulative_stability_of(t, beta: float, sigma0: float, d0: float):
    """:func:`cumulative_stability` from the raw parameters ``(β, σ0, D0)`` (no checks; ``t`` may be an array)."""
    grown = -np.expm1(-2.0 * beta * t)  # 1 − e^{−2βt}
    s02 = sigma0**2
    s2 = s02 + (1.0 - s02) * grown
    return 0.5 * np.abs(np.log1p((1.0 / s02 - 1.0) * grown)) + d0**2 * grown / (8.0 * s02 * s2)


def _quadrature_one(t: float, beta: float, sigma0: float, d0: float) -> float:
    if t == 0.0:
        return 0.0
    scale = min(t, 1.0 / (2.0 * beta))
    if sigma0 != 1.0:
        scale = min(scale, sigma0**2 / (2.0 * beta * abs(1.0 - sigma0**2)))

    def integrand(w: float) -> float:
        ew = np.exp(w)
        return float(lipschitz_bound_of(scale * (ew - 1.0), beta, sigma0, d0)) * scale * ew

    value, _ = quad(integrand, 0.0, np.log1p(t / scale), epsabs=0.0, epsrel=1e-13, limit=500)
    return value
