"""One student for one map ``x_t ↦ Φ(x_t)`` of the mixture flow: training pairs and held-out scores.

Inputs are exact draws ``x ~ p_t`` of :class:`~.field.MixtureField`; the target is any map of them (an RK4
teacher, the score). :func:`map_pairs` serves :func:`distillplan.nn.fit` with fresh pairs every step;
:func:`score_map` scores named predictors by relMSE against the target on held-out draws.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch

from ..nn.fit import ChunkMaker
from ..nn.metrics import RelativeErrors, batched_relative_mse
from .field import MixtureField

__all__ = ["map_pairs", "score_map"]

Map = Callable[[torch.Tensor], torch.Tensor]


def map_pairs(field: MixtureField, t: float, target: Map, batch: int, generator: torch.Generator) -> ChunkMaker:
    """``make_chunk(count) -> (x, target(x))`` of shape ``(count, batch, d)``, ``x ~ p_t`` from ``generator``."""

    @torch.no_grad()
    def make_chunk(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = field.sample(t, count * batch, generator)
        shape = (count, batch, field.dim)
        return x.view(shape), target(x).view(shape)

    return make_chunk


def score_map(field: MixtureField, t: float, target: Map, predictors: Mapping[str, Map], samples: int,
              generator: torch.Generator, batch_rows: int = 8192) -> RelativeErrors:
    """relMSE of every predictor against ``target`` on ``samples`` draws ``x ~ p_t`` (``batch_rows`` at a time)."""

    def draw(rows: int):
        x = field.sample(t, rows, generator)
        return target(x), {name: predict(x) for name, predict in predictors.items()}

    return batched_relative_mse(draw, samples, batch_rows)
