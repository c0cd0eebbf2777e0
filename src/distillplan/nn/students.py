"""Student networks: plain MLPs and a stack of n independent MLPs evaluated as one batched computation.

An MLP of ``depth`` hidden layers of ``width`` units maps ``R^d → R^d``:

    h_0 = x,   h_i = σ_i(W_i h_{i−1} + b_i)  (i = 1..depth),   y = W_out h_depth + b_out,

with σ_i from :data:`ACTIVATIONS`: ``relu``, ``requ`` (ReQU(x) = max(0, x)²) or ``alternating``
(ReLU, ReQU, ReLU, ReQU, … as the paper's score networks). Weights are Xavier-uniform
(``U[−√(6/(fan_in+fan_out)), +√(…)]``), biases zero, each student from its own generator.

:class:`StackedMLP` holds n such networks as parameters of shape ``(n, out, in)`` and runs them
with ``torch.baddbmm``: n students trained together take one Python-level step per training
step instead of n, and each student's numbers equal those of its :class:`MLP` twin up to float
rounding. :func:`clip_weights_` projects every weight matrix (not the biases) onto ``[−B, B]``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DistillPlanError, check_int_at_least, check_positive

__all__ = ["ACTIVATIONS", "requ", "activation_functions", "layer_dims", "MLP", "StackedMLP", "clip_weights_"]

ACTIVATIONS = ("relu", "requ", "alternating")


def requ(x: torch.Tensor) -> torch.Tensor:
    """Rectified quadratic unit ``ReQU(x) = max(0, x)²``."""
    return torch.relu(x).square()


def activation_functions(activation: str, depth: int) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    """The hidden-layer activations σ_1..σ_depth for ``activation`` in :data:`ACTIVATIONS`."""
    if activation not in ACTIVATIONS:
        raise DistillPlanError("activation", f"unknown activation {activation!r}; choose from {list(ACTIVATIONS)}")
    depth = check_int_at_least("depth", depth, 1)
    if activation == "relu":
        return [torch.relu] * depth
    if activation == "requ":
        return [requ] * depth
    return [torch.relu if i % 2 == 0 else requ for i in range(depth)]


def layer_dims(dim: int, width: int, depth: int, out_dim: int | None = None) -> list[int]:
    """``[d, width × depth, out_dim]``: the sizes of the ``depth + 1`` affine maps."""
    dim = check_int_at_least("dim", dim, 1)
    width = check_int_at_least("width", width, 1)
    depth = check_int_at_least("depth", depth, 1)
    out_dim = dim if out_dim is None else check_int_at_least("out_dim", out_dim, 1)
    return [dim] + [width] * depth + [out_dim]


def _xavier_layers(dims: Sequence[int], generator: torch.Generator | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Xavier-uniform weights ``(out, in)`` and zero biases, drawn layer by layer from ``generator``."""
    layers = []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        weight = torch.empty(fan_out, fan_in)
        nn.init.xavier_uniform_(weight, generator=generator)
        layers.append((weight, torch.zeros(fan_out)))
    return layers


class MLP(nn.Module):
    """One student ``R^d → R^out``: ``depth`` hidden layers of ``width`` units, linear output."""

    def __init__(self, dim: int, width: int, depth: int, activation: str = "relu", out_dim: int | None = None,
                 generator: torch.Generator | None = None):
        super().__init__()
        dims = layer_dims(dim, width, depth, out_dim)
        self.activation = activation
        self._acts = activation_functions(activation, depth)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        with torch.no_grad():
            for layer, (weight, bias) in zip(self.layers, _xavier_layers(dims, generator)):
                layer.weight.copy_(weight)
                layer.bias.copy_(bias)

    @property
    def dims(self) -> list[int]:
        return [self.layers[0].in_features] + [layer.out_features for layer in self.layers]

    def weight_tensors(self) -> list[torch.Tensor]:
        """The weight matrices (the parameters :func:`clip_weights_` bounds)."""
        return [layer.weight for layer in self.layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer, act in zip(self.layers[:-1], self._acts):
            h = act(F.linear(h, layer.weight, layer.bias))
        last = self.layers[-1]
        return F.linear(h, last.weight, last.bias)


class StackedMLP(nn.Module):
    """``n`` independent MLPs of one shape, stored as stacked parameters and run as one batch.

    ``forward(x)`` takes ``x`` of shape ``(n, B, d)`` and applies student ``k`` to ``x[k]``.
    Build it from students with :meth:`from_mlps` (or fresh with ``generators``), get them back
    with :meth:`unstack`.
    """

    def __init__(self, n: int, dim: int, width: int, depth: int, activation: str = "relu",
                 out_dim: int | None = None, generators: Sequence[torch.Generator | None] | None = None):
        super().__init__()
        n = check_int_at_least("n", n, 1)
        dims = layer_dims(dim, width, depth, out_dim)
        if generators is None:
            generators = [None] * n
        if len(generators) != n:
            raise DistillPlanError("generators", f"needs one generator per student ({n}), got {len(generators)}")
        per_student = [_xavier_layers(dims, g) for g in generators]
        self.n = n
        self.width, self.depth, self.activation = width, depth, activation
        self._acts = activation_functions(activation, depth)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([layers[i][0] for layers in per_student])) for i in range(len(dims) - 1))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([layers[i][1] for layers in per_student])[:, None, :]) for i in range(len(dims) - 1))

    @property
    def dims(self) -> list[int]:
        return [self.weights[0].shape[2]] + [w.shape[1] for w in self.weights]

    @classmethod
    def from_mlps(cls, mlps: Sequence[MLP]) -> "StackedMLP":
        """Stack copies of the parameters of ``mlps`` (all of one shape and activation)."""
        if not mlps:
            raise DistillPlanError("mlps", "needs at least one student")
        first = mlps[0]
        if any(m.dims != first.dims or m.activation != first.activation for m in mlps):
            raise DistillPlanError("mlps", "all students must share layer sizes and activation")
        dims = first.dims
        stacked = cls(len(mlps), dims[0], dims[1], len(dims) - 2, first.activation, dims[-1])
        with torch.no_grad():
            for i in range(len(dims) - 1):
                stacked.weights[i].copy_(torch.stack([m.layers[i].weight for m in mlps]))
                stacked.biases[i].copy_(torch.stack([m.layers[i].bias for m in mlps])[:, None, :])
        return stacked

    def unstack(self) -> list[MLP]:
        """Independent :class:`MLP` copies of the n students."""
        dims = self.dims
        out = []
        with torch.no_grad():
            for k in range(self.n):
                mlp = MLP(dims[0], dims[1], len(dims) - 2, self.activation, dims[-1])
                for i, layer in enumerate(mlp.layers):
                    layer.weight.copy_(self.weights[i][k])
                    layer.bias.copy_(self.biases[i][k, 0])
                out.append(mlp)
        return out

    def weight_tensors(self) -> list[torch.Tensor]:
        """The stacked weight matrices (the parameters :func:`clip_weights_` bounds)."""
        return list(self.weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[0] != self.n:
            raise DistillPlanError("x", f"must have shape ({self.n}, batch, dim), got {tuple(x.shape)}")
        h = x
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(bias, h, weight.transpose(1, 2))
            if i < last:
                h = self._acts[i](h)
        return h


@torch.no_grad()
def clip_weights_(student: nn.Module, bound: float) -> None:
    """Clamp every weight matrix of ``student`` (an :class:`MLP` or :class:`StackedMLP`) to ``[−B, B]`` in place."""
    bound = check_positive("bound", bound)
    tensors = student.weight_tensors() if hasattr(student, "weight_tensors") else [
        p for name, p in student.named_parameters() if name.endswith("weight")]
    for weight in tensors:
        weight.clamp_(-bound, bound)
