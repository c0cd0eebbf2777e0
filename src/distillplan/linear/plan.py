"""Merge plans: ordered trees over the teacher steps (leaves) T, T−1, …, 1.

Leaf ``t`` is the teacher step t → t−1. An internal node covers an interval [a → b] and has ≥ 2
children whose intervals are contiguous and cover it, listed from the noise side (a) to the data
side (b). Each internal node is one distillation stage; children are trained before parents
(post-order). Text form: nested brackets of leaf indices, e.g. BOOT for T = 4 is ``[[[4,3],2],1]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterator, Union

from ..errors import DistillPlanError, check_int_range

__all__ = ["Plan", "Child", "MAX_STEPS", "check_steps"]

Child = Union["Plan", int]
_TEXT = re.compile(r"^[\[\]\d,\s]+$")

MAX_STEPS = 4096
"""Largest number of teacher steps T a plan may cover (the one place to raise it).

Plans are trees, and evaluating, comparing, drawing or parsing one recurses once per level: a chain
plan (BOOT, consistency) is T levels deep at about two Python frames per level, which stays well inside
the recursion limit :mod:`distillplan.linear` sets (20000) at T = 4096. The planner's O(T³) DP takes
about a minute there (see :func:`distillplan.linear.planners.planner_seconds`)."""


def check_steps(steps, name: str = "steps") -> int:
    """Return ``steps`` as int, or raise unless it is a number of teacher steps T in ``2..MAX_STEPS``."""
    return check_int_range(name, steps, 2, MAX_STEPS)


def _check_nesting(text: str) -> None:
    """Raise before parsing if brackets nest deeper than any plan over at most MAX_STEPS steps can."""
    depth = deepest = 0
    for ch in text:
        if ch == "[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "]":
            depth -= 1
    if deepest > MAX_STEPS:
        raise DistillPlanError("plan", f"brackets nest {deepest} deep; a plan over T <= {MAX_STEPS} steps "
                                       f"nests at most {MAX_STEPS - 1} deep")


def _start(c: Child) -> int:
    return c if isinstance(c, int) else c.start


def _end(c: Child) -> int:
    return c - 1 if isinstance(c, int) else c.end


@dataclass(frozen=True)
class Plan:
    """An internal node of a merge plan (the root is a ``Plan``); leaves are ``int`` step indices."""

    children: tuple[Child, ...]

    def __post_init__(self) -> None:
        ch = tuple(self.children)
        object.__setattr__(self, "children", ch)
        if len(ch) < 2:
            raise DistillPlanError("plan", f"every merge needs >= 2 children, got {len(ch)} in {ch!r}")
        for c in ch:
            if isinstance(c, bool) or not isinstance(c, (int, Plan)):
                raise DistillPlanError("plan", f"children must be leaf indices (int >= 1) or plans, got {c!r}")
            if isinstance(c, int) and c < 1:
                raise DistillPlanError("plan", f"leaf indices are teacher steps t >= 1, got {c}")
        for left, right in zip(ch, ch[1:]):
            if _end(left) != _start(right):
                raise DistillPlanError(
                    "plan",
                    f"children must be contiguous from noise to data: a child ends at t={_end(left)} "
                    f"but the next starts at t={_start(right)}",
                )

    # ------------------------------------------------------------------ structure
    @property
    def start(self) -> int:
        """Input time a of the interval [a → b] (noise side)."""
        return _start(self.children[0])

    @property
    def end(self) -> int:
        """Output time b of the interval [a → b] (data side)."""
        return _end(self.children[-1])

    @property
    def stages(self) -> int:
        """Number of internal nodes = distillation stages (the plan's cost)."""
        return 1 + sum(c.stages for c in self.children if isinstance(c, Plan))

    @property
    def depth(self) -> int:
        """Height of the tree (a single merge has depth 1)."""
        return 1 + max((c.depth for c in self.children if isinstance(c, Plan)), default=0)

    def nodes(self) -> Iterator["Plan"]:
        """Internal nodes in training order (post-order: children before parents, noise side first)."""
        for c in self.children:
            if isinstance(c, Plan):
                yield from c.nodes()
        yield self

    def leaves(self) -> list[int]:
        """Leaf indices from the noise side: [a, a−1, …, b+1]."""
        out: list[int] = []
        for c in self.children:
            out.extend([c] if isinstance(c, int) else c.leaves())
        return out

    def validate_steps(self, steps: int) -> "Plan":
        """Check that the plan covers exactly the teacher steps T → 0; return self."""
        if self.start != steps or self.end != 0:
            raise DistillPlanError(
                "plan", f"must cover the teacher steps {steps} -> 0, but covers {self.start} -> {self.end}"
            )
        return self

    # ------------------------------------------------------------------ conversions
    def to_nested(self) -> list:
        """Nested lists of leaf indices (the JSON form)."""
        return [c if isinstance(c, int) else c.to_nested() for c in self.children]

    @classmethod
    def from_nested(cls, obj, steps: int | None = None) -> "Plan":
        """Build from nested lists/tuples of leaf indices; validate coverage of T → 0 when ``steps`` given."""

        def build(o) -> Child:
            if isinstance(o, bool):
                raise DistillPlanError("plan", f"leaf indices must be integers, got {o!r}")
            if isinstance(o, int):
                return o
            if isinstance(o, (list, tuple)):
                return cls(tuple(build(x) for x in o))
            raise DistillPlanError("plan", f"expected nested lists of leaf indices, got {o!r}")

        if not isinstance(obj, (list, tuple)):
            raise DistillPlanError("plan", f"the root must be a list of children, got {obj!r}")
        plan = build(obj)
        return plan.validate_steps(steps) if steps is not None else plan

    def to_text(self) -> str:
        """One-line text form, nested brackets of leaf indices, e.g. ``[[4,3],[2,1]]``."""
        return json.dumps(self.to_nested(), separators=(",", ":"))

    @classmethod
    def parse(cls, text: str, steps: int | None = None) -> "Plan":
        """Inverse of :meth:`to_text` (whitespace allowed)."""
        if not isinstance(text, str) or not _TEXT.match(text):
            shown = text if not isinstance(text, str) or len(text) <= 60 else text[:57] + "..."
            raise DistillPlanError("plan", f"not a plan in bracket form: {shown!r}")
        _check_nesting(text)
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DistillPlanError("plan", f"malformed bracket form ({exc.msg})") from None
        return cls.from_nested(obj, steps)

    def to_json(self) -> str:
        """JSON document ``{"steps": T, "plan": [...]}``."""
        return json.dumps({"steps": self.start, "plan": self.to_nested()})

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        """Inverse of :meth:`to_json` (``"steps"`` is optional; when given, coverage is checked)."""
        _check_nesting(text)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DistillPlanError("plan", f"malformed JSON ({exc.msg})") from None
        if not isinstance(doc, dict) or "plan" not in doc:
            raise DistillPlanError("plan", 'expected a JSON object with key "plan"')
        steps = doc.get("steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
            raise DistillPlanError("plan", f'"steps" must be an integer, got {steps!r}')
        return cls.from_nested(doc["plan"], steps)

    def __str__(self) -> str:
        return self.to_text()
