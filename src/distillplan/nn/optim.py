"""The optimizer pieces every training loop shares: AdamW and the (per-student) gradient-norm clip."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from .students import clip_weights_

__all__ = ["adamw", "clip_grad_norm_", "update_"]


def adamw(params: Iterable[torch.Tensor], lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """AdamW, the fused kernel where this torch build has it for the device, else the foreach one."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch / unsupported device
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, foreach=True)


@torch.no_grad()
def clip_grad_norm_(params: list[torch.Tensor], max_norm: float, stacked: bool = False) -> None:
    """Global norm clip ``g ← g · min(1, max_norm / (||g||₂ + 1e−6))``, in place.

    ``stacked=True``: the parameters hold several students along dim 0 (:class:`~.students.StackedMLP`);
    each student gets its own norm and coefficient, exactly as if it were clipped alone.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    if not stacked:
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))
        return
    squares = torch.stack([g.reshape(g.shape[0], -1).square().sum(1) for g in grads]).sum(0)
    coef = torch.clamp(max_norm / (squares.sqrt() + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))


def update_(optimizer: torch.optim.Optimizer, net: nn.Module, params: list[torch.Tensor], grad_clip: float | None,
            weight_bound: float | None, stacked: bool = False) -> None:
    """One update after ``backward``: clip the gradient norm (per student), step, zero the gradients, and
    project every weight matrix onto ``[−weight_bound, weight_bound]`` (``None`` skips a part)."""
    if grad_clip is not None:
        clip_grad_norm_(params, grad_clip, stacked)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if weight_bound is not None:
        clip_weights_(net, weight_bound)
