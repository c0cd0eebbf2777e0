"""Deep students of the full-horizon flow map ``Φ_{0←T}`` (paper 2, §2.3 and exp3).

* :func:`residual_euler` / :class:`ResidualComposition` — the residual composition of the paper's
  Definition 10: for blocks k = 1..L,

      x ← x + α v_k(x),   v_k(x) = −β (x + s_k(x)),   α = −T/L,

  i.e. explicit Euler on the PF ODE ``dx/du = −β(x + ∇log p_u(x))`` backward from ``u = T`` with L
  equal steps, where block k's score ``s_k`` is its own ReLU MLP with no time input. With
  ``s_k = ∇log p_{u_k}`` at the node times ``u_k = T(1 − (k−1)/L)`` (:func:`euler_node_times`) it is
  exactly explicit Euler, which converges (first order) to the exact map as L grows.
* :class:`CoordinateTransformer` — the transformer student: the d coordinates are d scalar tokens,
  ``Linear(1 → D)`` plus a learned positional embedding (init N(0, 0.02²)), L pre-LayerNorm blocks
  ``h ← h + Attn(LN(h)); h ← h + MLP(LN(h))`` (H-head self-attention, GELU MLP of width ``ff·D``),
  then ``Linear(D → 1)`` per token. No final LayerNorm, no residual from input to output.

Initialisation follows the authors' scripts: every Linear weight Xavier-uniform, every bias zero,
LayerNorms at (1, 0); each drawn from an explicit ``torch.Generator`` so a seed fixes the student.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DistillPlanError, check_int_at_least, check_positive
from .students import MLP

__all__ = ["residual_euler", "euler_node_times", "ResidualComposition", "CoordinateTransformer"]


def euler_node_times(horizon: float, blocks: int) -> list[float]:
    """``u_k = T(1 − (k−1)/L)``, k = 1..L: the time at which block k's Euler step starts."""
    horizon = check_positive("horizon", horizon)
    blocks = check_int_at_least("blocks", blocks, 1)
    return [horizon * (1.0 - k / blocks) for k in range(blocks)]


def residual_euler(x: torch.Tensor, scores: Sequence[Callable[[torch.Tensor], torch.Tensor]], beta: float,
                   horizon: float) -> torch.Tensor:
    """``x ← x + α(−β(x + s_k(x)))`` for each ``s_k`` in ``scores`` in order, ``α = −T/L``; returns a new tensor."""
    if len(scores) < 1:
        raise DistillPlanError("scores", "needs at least one block")
    alpha = -float(horizon) / len(scores)
    beta = float(beta)
    for score in scores:
        x = x + alpha * (-beta * (x + score(x)))
    return x


class ResidualComposition(nn.Module):
    """L residual Euler blocks with learned scores ``s_k`` (ReLU MLPs ``R^d → R^d``, no time input).

    Args:
        dim: data dimension d.
        blocks: L.
        beta, horizon: the OU rate β and the horizon T (fix ``α = −T/L`` and ``v_k = −β(x + s_k)``).
        width, depth, activation: each ``s_k`` is :class:`~.students.MLP` ``(dim, width, depth, activation)``
            (paper: ReLU, inner depth 2, width 128).
        generator: draws every block's initial weights, block after block.
    """

    def __init__(self, dim: int, blocks: int, beta: float, horizon: float, width: int = 128, depth: int = 2,
                 activation: str = "relu", generator: torch.Generator | None = None):
        super().__init__()
        blocks = check_int_at_least("blocks", blocks, 1)
        self.beta = check_positive("beta", beta)
        self.horizon = check_positive("horizon", horizon)
        self.scores = nn.ModuleList(MLP(dim, width, depth, activation, generator=generator) for _ in range(blocks))

    @property
    def blocks(self) -> int:
        return len(self.scores)

    @property
    def alpha(self) -> float:
        """The step ``α = −T/L``."""
        return -self.horizon / self.blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return residual_euler(x, list(self.scores), self.beta, self.horizon)


class _Block(nn.Module):
    """Pre-LN transformer block: ``h + Attn(LN(h))``, then ``h + MLP(LN(h))``."""

    def __init__(self, d_model: int, heads: int, ff_mult: int):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, ff_mult * d_model)
        self.ff2 = nn.Linear(ff_mult * d_model, d_model)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        *lead, tokens, width = h.shape
        q, k, v = self.qkv(self.ln1(h)).chunk(3, dim=-1)
        shape = (*lead, tokens, self.heads, width // self.heads)
        q, k, v = (z.reshape(shape).transpose(-3, -2) for z in (q, k, v))  # (..., H, tokens, D/H)
        a = F.scaled_dot_product_attention(q, k, v).transpose(-3, -2).reshape(*lead, tokens, width)
        h = h + self.proj(a)
        return h + self.ff2(F.gelu(self.ff1(self.ln2(h))))


class CoordinateTransformer(nn.Module):
    """Transformer over the d coordinates of ``x`` as scalar tokens: ``R^d → R^d``.

    Args:
        dim: d (the number of tokens).
        blocks: L pre-LN blocks.
        d_model: token width D (paper 128); must be divisible by ``heads`` (paper 4).
        ff_mult: the MLP's hidden width is ``ff_mult · D`` (paper 4).
        generator: draws the Xavier weights and the positional embedding.
    """

    def __init__(self, dim: int, blocks: int, d_model: int = 128, heads: int = 4, ff_mult: int = 4,
                 generator: torch.Generator | None = None):
        super().__init__()
        dim = check_int_at_least("dim", dim, 1)
        blocks = check_int_at_least("blocks", blocks, 1)
        d_model = check_int_at_least("d_model", d_model, 1)
        heads = check_int_at_least("heads", heads, 1)
        ff_mult = check_int_at_least("ff_mult", ff_mult, 1)
        if d_model % heads:
            raise DistillPlanError("heads", f"must divide d_model={d_model}, got {heads}")
        self.embed = nn.Linear(1, d_model)
        self.pos = nn.Parameter(torch.zeros(dim, d_model))
        self.layers = nn.ModuleList(_Block(d_model, heads, ff_mult) for _ in range(blocks))
        self.head = nn.Linear(d_model, 1)
        with torch.no_grad():
            self.pos.normal_(0.0, 0.02, generator=generator)
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight, generator=generator)
                    module.bias.zero_()

    @property
    def blocks(self) -> int:
        return len(self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x.unsqueeze(-1)) + self.pos  # (..., d, D)
        for layer in self.layers:
            h = layer(h)
        return self.head(h).squeeze(-1)
