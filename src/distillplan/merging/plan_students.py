"""Students distilled along a merge plan, stage by stage: paper 1's strategies with trained students.

Every internal node ``[a → b]`` of a plan is one stage, trained in post-order (children before parents).
Its student starts as a copy of its first child's student (warm start; a leaf child's student is
``init_leaf(t)``) and is trained toward the composition of its children, noise side first:

    target(z) = (c_k ∘ … ∘ c_1)(z),   c_j = step(t) for a leaf child t, its trained student otherwise.

A stage's student depends only on its subtree, so ``memo`` (subtree text → :class:`Stage`) lets several
plans share the stages they have in common.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..linear.plan import Plan

__all__ = ["Stage", "distill_stages"]

Map = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Stage:
    """A trained stage: its student (frozen, eval mode) and what ``train_stage`` reported."""

    student: nn.Module
    info: dict = field(default_factory=dict)


def distill_stages(plan: Plan, step: Callable[[int], Map], init_leaf: Callable[[int], nn.Module],
                 train_stage: Callable[[nn.Module, Plan, Map], dict | None],
                 memo: dict[str, Stage] | None = None) -> dict[str, Stage]:
    """Train every stage of ``plan`` not yet in ``memo``; return ``memo`` (the root is ``memo[plan.to_text()]``).

    ``train_stage(student, node, target)`` trains ``student`` in place on the interval of ``node`` toward
    ``target`` (called without gradients) and returns the stage's measurements.
    """
    memo = {} if memo is None else memo
    for node in plan.nodes():
        text = node.to_text()
        if text in memo:
            continue
        first = node.children[0]
        student = copy.deepcopy(init_leaf(first) if isinstance(first, int) else memo[first.to_text()].student)
        student.requires_grad_(True)
        maps = [step(c) if isinstance(c, int) else memo[c.to_text()].student for c in node.children]
        info = train_stage(student, node, _composition(maps))
        student.requires_grad_(False)
        memo[text] = Stage(student.eval(), dict(info or {}))
    return memo


def _composition(maps: list[Map]) -> Map:
    @torch.no_grad()
    def target(z: torch.Tensor) -> torch.Tensor:
        for apply in maps:
            z = apply(z)
        return z

    return target
