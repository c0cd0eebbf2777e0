"""Measurements of trained maps: Lipschitz constants, affine floors, error ratios and sizes.

* :func:`jacobian_spectral_norms` — ``||J_f(x_i)||₂`` at test points by ``torch.func.vmap(jacrev(f))``;
  their maximum is a lower bound on the Lipschitz constant of ``f``.
* :func:`weight_spectral_product` — ``Π_i ||W_i||₂`` over the layers of an MLP: an upper bound on the
  Lipschitz constant of a ReLU network (1-Lipschitz activations). ReQU is not globally Lipschitz,
  so for alternating ReLU/ReQU networks the product is a capacity proxy, not a bound.
* :func:`affine_fit` — the least-squares affine map from inputs to teacher outputs: its relMSE is
  the error floor of any affine student (the part of a target that is "only" a linear gain).
* :func:`parameter_count` — trainable scalars of a network.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from torch import nn

from ..errors import DistillPlanError, check_int_at_least

__all__ = ["jacobian_spectral_norms", "weight_spectral_product", "affine_fit", "parameter_count"]


def jacobian_spectral_norms(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                            chunk: int = 64) -> torch.Tensor:
    """``||J_fn(x_i)||₂`` for every row ``x_i`` of ``x`` (shape ``(N, d)``); returns ``(N,)`` float64.

    ``fn`` maps one point ``(d,)`` to ``(m,)`` (a batched module works too: it is called on single
    rows). Jacobians are formed ``chunk`` points at a time with reverse mode.
    """
    if x.dim() != 2:
        raise DistillPlanError("x", f"must have shape (N, d), got {tuple(x.shape)}")
    chunk = check_int_at_least("chunk", chunk, 1)
    jac = torch.func.vmap(torch.func.jacrev(fn))
    out = []
    for start in range(0, x.shape[0], chunk):
        with torch.enable_grad():
            j = jac(x[start:start + chunk])
        out.append(torch.linalg.matrix_norm(j.detach().to(torch.float64), ord=2))
    return torch.cat(out)


@torch.no_grad()
def weight_spectral_product(weights: Sequence[torch.Tensor]) -> float:
    """``Π_i ||W_i||₂`` (float64), e.g. of ``mlp.weight_tensors()``."""
    if not weights:
        raise DistillPlanError("weights", "needs at least one weight matrix")
    log_total = 0.0
    for w in weights:
        norm = float(torch.linalg.matrix_norm(w.detach().to(torch.float64), ord=2))
        if norm == 0.0:
            return 0.0
        log_total += math.log(norm)
    return math.exp(log_total) if log_total < 709.0 else math.inf


@torch.no_grad()
def affine_fit(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares affine map ``y ≈ x A + b`` (float64): returns ``(A, b)`` of shapes ``(d_in, d_out)``, ``(d_out,)``.

    Scoring a teacher against its best affine fit separates the part of a map that any linear
    student learns from the nonlinear (component-dependent) part.
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0]:
        raise DistillPlanError("x", f"needs matching (N, d) arrays, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] <= x.shape[1]:
        raise DistillPlanError("x", f"needs more rows than columns + 1 to fit, got shape {tuple(x.shape)}")
    design = torch.cat([x.to(torch.float64), torch.ones(x.shape[0], 1, dtype=torch.float64, device=x.device)], 1)
    # Normal equations in float64: unlike LAPACK's lstsq, two matrix products and a small solve repeat
    # bit for bit, so a fit on the same data gives the same floor in every run.
    solution = torch.linalg.solve(design.T @ design, design.T @ y.to(torch.float64))
    return solution[:-1], solution[-1]


def parameter_count(net: nn.Module) -> int:
    """Number of trainable scalars of ``net``."""
    return int(sum(p.numel() for p in net.parameters() if p.requires_grad))
