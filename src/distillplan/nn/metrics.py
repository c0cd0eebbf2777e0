"""Measurements of trained maps: Lipschitz constants, affine floors, error ratios and sizes.

* :func:`jacobian_spectral_norms` — ``||J_f(x_i)||₂`` at test points by ``torch.func.vmap(jacrev(f))``;
  their maximum is a lower bound on the Lipschitz constant of ``f``.
* :func:`weight_spectral_product` — ``Π_i ||W_i||₂`` over the layers of an MLP: an upper bound on the
  Lipschitz constant of a ReLU network (1-Lipschitz activations). ReQU is not globally Lipschitz,
  so for alternating ReLU/ReQU networks the product is a capacity proxy, not a bound.
* :func:`affine_fit` — the least-squares affine map from inputs to teacher outputs: its relMSE is
  the error floor of any affine student (the part of a target that is "only" a linear gain).
* :func:`relative_mse` / :func:`batched_relative_mse` — ``Σ_i ||ŷ_i − y_i||² / Σ_i ||y_i||²`` (a ratio of
  sums, float64 accumulators), on two tensors or over many draws in batches.
* :func:`parameter_count` — trainable scalars of a network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

import torch

from torch import nn

from ..errors import DistillPlanError, check_int_at_least

__all__ = ["jacobian_spectral_norms", "weight_spectral_product", "affine_fit", "parameter_count", "relative_mse",
           "squared_error_sums", "batched_relative_mse", "RelativeErrors"]


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


def squared_error_sums(pred: torch.Tensor, ref: torch.Tensor, dims: tuple[int, ...] | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ ||pred − ref||², Σ ||ref||²)`` in float64, summed over ``dims`` (default: every axis)."""
    if pred.shape != ref.shape:
        raise DistillPlanError("pred", f"shape {tuple(pred.shape)} differs from reference {tuple(ref.shape)}")
    dims = tuple(range(ref.dim())) if dims is None else dims
    ref64 = ref.to(torch.float64)
    diff = pred.to(torch.float64) - ref64
    return diff.square().sum(dims), ref64.square().sum(dims)


def relative_mse(pred: torch.Tensor, ref: torch.Tensor) -> float:
    """``Σ ||pred − ref||² / Σ ||ref||²`` over all rows (float64 sums)."""
    err, norm = squared_error_sums(pred, ref)
    return float(err / norm)


@dataclass(frozen=True)
class RelativeErrors:
    """relMSE of each named prediction against one reference, and the reference's RMS norm ``√(Σ||y||²/N)``.

    Scalars, or arrays over the leading group axis when the draws were grouped (one value per student)."""

    relmse: dict[str, float | np.ndarray]
    reference_rms: float | np.ndarray


@torch.no_grad()
def batched_relative_mse(draw: Callable[[int], tuple[torch.Tensor, Mapping[str, torch.Tensor]]], samples: int,
                         batch_rows: int = 8192, grouped: bool = False) -> RelativeErrors:
    """:func:`relative_mse` of every prediction over ``samples`` draws, ``batch_rows`` at a time.

    ``draw(rows) -> (reference, {name: prediction})`` returns ``rows`` fresh draws along axis 0, or along
    axis 1 with ``grouped`` (shape ``(n, rows, d)``: n students scored separately).
    """
    samples = check_int_at_least("samples", samples, 1)
    batch_rows = check_int_at_least("batch_rows", batch_rows, 1)
    errors: dict[str, torch.Tensor] = {}
    norm = None
    for done in range(0, samples, batch_rows):
        ref, preds = draw(min(batch_rows, samples - done))
        dims = tuple(range(1 if grouped else 0, ref.dim()))
        ref_sq = ref.to(torch.float64).square().sum(dims)
        norm = ref_sq if norm is None else norm + ref_sq
        for name, pred in preds.items():
            err = squared_error_sums(pred, ref, dims)[0]
            errors[name] = err if name not in errors else errors[name] + err

    def plain(value: torch.Tensor) -> float | np.ndarray:
        return value.cpu().numpy() if grouped else float(value)

    return RelativeErrors({name: plain(err / norm) for name, err in errors.items()}, plain((norm / samples).sqrt()))
