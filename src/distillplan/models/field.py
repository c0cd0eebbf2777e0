"""The one protocol every model source implements: a probability-flow velocity field in process time.

A :class:`VelocityField` maps a batch ``x`` of shape ``(n, *shape)`` at one process time ``t`` (a float in
``[process.t_min, process.horizon]``, see :mod:`.processes`) to ``v(x, t) = dx/dt`` of the probability-flow
ODE, as a torch tensor of the same shape, dtype and device. Samples are independent: row i of the output
depends on row i of the input only (the calibrators rely on it to batch Jacobian-vector products).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

import torch

from .processes import NoiseProcess

__all__ = ["VelocityField", "FunctionField"]


class VelocityField(ABC):
    """A probability-flow velocity ``v(x, t)``; see the module docstring."""

    process: NoiseProcess
    shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device

    @abstractmethod
    def velocity(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """``dx/dt`` at process time ``t`` for every row of ``x`` (shape ``(n, *shape)``)."""

    def describe(self) -> dict:
        """What the card records about the model: at least ``{"source": ..., "process": process.config()}``."""
        return {"source": type(self).__name__, "process": self.process.config()}

    def prior(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` noise-side draws ``x_horizon ~ N(0, prior_std² I)`` (unit data variance assumed)."""
        z = torch.randn((n, *self.shape), generator=generator, dtype=self.dtype, device=generator.device)
        return (z * self.process.prior_std()).to(self.device)

    @property
    def numel(self) -> int:
        """Entries of one sample."""
        out = 1
        for s in self.shape:
            out *= s
        return out


@dataclass(eq=False)
class FunctionField(VelocityField):
    """A velocity given directly as ``fn(x, t) -> dx/dt`` (tests, analytic fields)."""

    fn: Callable[[torch.Tensor, float], torch.Tensor]
    process: NoiseProcess
    shape: tuple[int, ...]
    dtype: torch.dtype = torch.float64
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    label: str = "function"

    def velocity(self, x: torch.Tensor, t: float) -> torch.Tensor:
        return self.fn(x, t)

    def describe(self) -> dict:
        return {"source": self.label, "process": self.process.config()}
