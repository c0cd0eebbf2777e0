"""Merge plans: ordered trees over the teacher steps (leaves) T, T−1, …, 1.

Leaf ``t`` is the teacher step t → t−1. An internal node covers an interval [a → b] and has ≥ 2
children whose intervals are contiguous and cover it, listed from the noise side (a) to the data
side (b). Each internal node is one distillation stage; children are trained before parents
(post-order).

Two text forms:

* **merges** (the JSON form, flat): the internal nodes in training order (children before parents), each
  a strictly decreasing list of its boundaries ``[a, c_1, …, b]`` (at least 3 entries: a node has ≥ 2
  children); leaves are implicit. BOOT for T = 4 is ``[[4, 3, 2], [4, 2, 1], [4, 1, 0]]``.
* **brackets** (for people): nested brackets of leaf indices, BOOT for T = 4 is ``[[[4,3],2],1]``.

Nothing here recurses over the tree: a chain plan (BOOT, consistency) is T levels deep, and every
method walks it with an explicit stack, so plans at T = :data:`MAX_STEPS` work at Python's default
recursion limit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence, Union

from ..errors import DistillPlanError, check_int_range

__all__ = ["Plan", "Child", "MAX_STEPS", "check_steps", "plan_from_expansion"]

Child = Union["Plan", int]
_TEXT = re.compile(r"^[\[\]\d,\s]+$")
_TOKEN = re.compile(r"\s*(\[|\]|,|\d+)")

MAX_STEPS = 4096
"""Largest number of teacher steps T a plan may cover (the one place to raise it): the planner's O(T³)
DP takes about a minute there (see :func:`distillplan.linear.planners.planner_seconds`)."""


def check_steps(steps, name: str = "steps") -> int:
    """Return ``steps`` as int, or raise unless it is a number of teacher steps T in ``2..MAX_STEPS``."""
    return check_int_range(name, steps, 2, MAX_STEPS)


def _start(c: Child) -> int:
    return c if isinstance(c, int) else c.start


def _end(c: Child) -> int:
    return c - 1 if isinstance(c, int) else c.end


@dataclass(frozen=True, eq=False, repr=False)
class Plan:
    """An internal node of a merge plan (the root is a ``Plan``); leaves are ``int`` step indices.

    ``start``, ``end``, ``stages`` and ``depth`` are computed once from the children (which are built
    first), so no property walks the tree. Plans compare and hash by their merges.
    """

    children: tuple[Child, ...]
    start: int = field(init=False)
    end: int = field(init=False)
    stages: int = field(init=False)
    depth: int = field(init=False)

    def __post_init__(self) -> None:
        ch = tuple(self.children)
        object.__setattr__(self, "children", ch)
        if len(ch) < 2:
            raise DistillPlanError("plan", f"every merge needs >= 2 children, got {len(ch)}")
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
        nodes = [c for c in ch if isinstance(c, Plan)]
        object.__setattr__(self, "start", _start(ch[0]))
        object.__setattr__(self, "end", _end(ch[-1]))
        object.__setattr__(self, "stages", 1 + sum(c.stages for c in nodes))
        object.__setattr__(self, "depth", 1 + max((c.depth for c in nodes), default=0))

    # ------------------------------------------------------------------ structure
    @property
    def boundaries(self) -> list[int]:
        """``[a, c_1, …, b]``: the start and every child's end (this node's merge)."""
        return [self.start] + [_end(c) for c in self.children]

    def nodes(self) -> Iterator["Plan"]:
        """Internal nodes in training order (post-order: children before parents, noise side first)."""
        stack: list[tuple[Plan, int]] = [(self, 0)]
        while stack:
            node, i = stack.pop()
            while i < len(node.children) and not isinstance(node.children[i], Plan):
                i += 1
            if i == len(node.children):
                yield node
                continue
            stack.append((node, i + 1))
            stack.append((node.children[i], 0))  # type: ignore[arg-type]

    def leaves(self) -> list[int]:
        """Leaf indices from the noise side: [a, a−1, …, b+1]."""
        return list(range(self.start, self.end, -1))

    def merges(self) -> list[list[int]]:
        """The flat form: every node's boundaries, in training order."""
        return [node.boundaries for node in self.nodes()]

    def validate_steps(self, steps: int) -> "Plan":
        """Check that the plan covers exactly the teacher steps T → 0; return self."""
        if self.start != steps or self.end != 0:
            raise DistillPlanError(
                "plan", f"must cover the teacher steps {steps} -> 0, but covers {self.start} -> {self.end}"
            )
        return self

    # ------------------------------------------------------------------ flat form
    @classmethod
    def from_merges(cls, merges: Iterable[Sequence[int]], steps: int | None = None) -> "Plan":
        """Build from merges (any order; see the module docstring). Every child interval longer than one
        step must be a merge of the list, every merge but the root must be used exactly once, and with
        ``steps`` the root must cover T → 0."""
        by_interval: dict[tuple[int, int], list[int]] = {}
        for raw in merges if not isinstance(merges, (str, bytes)) else [merges]:
            bounds = _merge_bounds(raw)
            key = (bounds[0], bounds[-1])
            if key in by_interval:
                raise DistillPlanError("plan", f"two merges cover [{key[0]} -> {key[1]}]")
            by_interval[key] = bounds
        if not by_interval:
            raise DistillPlanError("plan", "needs at least one merge")
        built: dict[tuple[int, int], Plan] = {}
        used: set[tuple[int, int]] = set()
        for key in sorted(by_interval, key=lambda k: k[0] - k[1]):  # shorter intervals first
            bounds = by_interval[key]
            children: list[Child] = []
            for a, b in zip(bounds, bounds[1:]):
                if a - b == 1:
                    children.append(a)
                elif (a, b) in built and (a, b) not in used:
                    children.append(built[(a, b)])
                    used.add((a, b))
                else:
                    raise DistillPlanError("plan", f"merge {bounds} has a child [{a} -> {b}] that is no merge of "
                                                   "the plan (or is used twice)")
            built[key] = cls(tuple(children))
        roots = [key for key in built if key not in used]
        if len(roots) != 1:
            raise DistillPlanError("plan", f"the merges must form one tree, got {len(roots)} roots "
                                           f"{sorted(roots, reverse=True)[:4]}")
        plan = built[roots[0]]
        return plan.validate_steps(steps) if steps is not None else plan

    def to_json(self) -> str:
        """JSON document ``{"steps": T, "merges": [...]}`` (flat: any JSON reader takes it at any T)."""
        return json.dumps({"steps": self.start, "merges": self.merges()})

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        """Inverse of :meth:`to_json`; also reads ``{"plan": "[[4,3],[2,1]]"}`` or nested lists under ``"plan"``
        (the bracket form). ``"steps"`` is optional; when given, coverage is checked."""
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deep; use the merges form"
            raise DistillPlanError("plan", f"malformed JSON ({why})") from None
        if not isinstance(doc, dict) or not ({"merges", "plan"} & set(doc)):
            raise DistillPlanError("plan", 'expected a JSON object with key "merges" (or "plan")')
        steps = doc.get("steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
            raise DistillPlanError("plan", f'"steps" must be an integer, got {steps!r}')
        if "merges" in doc:
            if not isinstance(doc["merges"], list):
                raise DistillPlanError("plan", '"merges" must be a list of boundary lists')
            return cls.from_merges(doc["merges"], steps)
        plan = doc["plan"]
        text_form = plan if isinstance(plan, str) else json.dumps(plan)
        return cls.parse(text_form, steps)

    # ------------------------------------------------------------------ bracket form
    def to_text(self) -> str:
        """One-line bracket form, nested brackets of leaf indices, e.g. ``[[4,3],[2,1]]``."""
        out: list[str] = []
        stack: list[Child | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, int):
                out.append(str(item))
            else:
                out.append("[")
                stack.append("]")
                for i in range(len(item.children) - 1, -1, -1):
                    stack.append(item.children[i])
                    if i:
                        stack.append(",")
        return "".join(out)

    def to_nested(self) -> list:
        """Nested lists of leaf indices (built without recursion; deep for chain plans at large T)."""
        return json.loads(self.to_text()) if self.depth < 500 else _nested_lists(self.to_text())

    @classmethod
    def from_nested(cls, obj, steps: int | None = None) -> "Plan":
        """Build from nested lists/tuples of leaf indices; validate coverage of T → 0 when ``steps`` given."""
        if not isinstance(obj, (list, tuple)):
            raise DistillPlanError("plan", f"the root must be a list of children, got {obj!r}")
        tokens: list[str] = []
        stack: list = [obj]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                tokens.append(item)
            elif isinstance(item, bool) or not isinstance(item, (int, list, tuple)):
                raise DistillPlanError("plan", f"expected nested lists of leaf indices, got {item!r}")
            elif isinstance(item, int):
                tokens.append(str(item))
            else:
                tokens.append("[")
                stack.append("]")
                for i in range(len(item) - 1, -1, -1):
                    stack.append(item[i])
                    if i:
                        stack.append(",")
        return cls.parse("".join(tokens), steps)

    @classmethod
    def parse(cls, text: str, steps: int | None = None) -> "Plan":
        """Inverse of :meth:`to_text` (whitespace allowed), by a stack parser (no recursion)."""
        if not isinstance(text, str) or not _TEXT.match(text):
            shown = text if not isinstance(text, str) or len(text) <= 60 else text[:57] + "..."
            raise DistillPlanError("plan", f"not a plan in bracket form: {shown!r}")
        text = text.strip()
        if not text.startswith("["):
            raise DistillPlanError("plan", f"the root must be a list of children, got {text[:40]!r}")
        open_lists: list[list[Child]] = []
        root: Child | None = None
        expect_item = True
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                break
            token, pos = match.group(1), match.end()
            if root is not None:
                raise DistillPlanError("plan", "malformed bracket form (text after the closing bracket)")
            if token == "[":
                if not expect_item:
                    raise DistillPlanError("plan", "malformed bracket form (missing comma)")
                if len(open_lists) >= MAX_STEPS:
                    raise DistillPlanError("plan", f"brackets nest deeper than a plan over T <= {MAX_STEPS} steps can")
                open_lists.append([])
            elif token == "]":
                if not open_lists or (expect_item and open_lists[-1]):
                    raise DistillPlanError("plan", "malformed bracket form (unbalanced or empty brackets)")
                node = cls(tuple(open_lists.pop()))
                expect_item = False
                if open_lists:
                    open_lists[-1].append(node)
                else:
                    root = node
            elif token == ",":
                if expect_item or not open_lists:
                    raise DistillPlanError("plan", "malformed bracket form (misplaced comma)")
                expect_item = True
            else:
                if not expect_item or not open_lists:
                    raise DistillPlanError("plan", "malformed bracket form (a leaf outside brackets)")
                open_lists[-1].append(int(token))
                expect_item = False
        if root is None or open_lists or not isinstance(root, Plan):
            raise DistillPlanError("plan", "malformed bracket form (unbalanced brackets)")
        return root.validate_steps(steps) if steps is not None else root

    # ------------------------------------------------------------------ identity
    def _key(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(m) for m in self.merges())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Plan) and (self is other or self._key() == other._key())

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        text = self.to_text()
        return f"Plan({text if len(text) <= 80 else text[:77] + '...'})"


def plan_from_expansion(root, expand) -> Plan:
    """Build a plan top-down with an explicit stack: ``expand(state)`` lists a node's children as
    ``(a, b, child_state)`` from the noise side, ``child_state`` None for a leaf (a − b = 1); ``root`` is
    the root node's state. Planners rebuild their optimum this way from their split tables."""
    merges: list[list[int]] = []
    stack = [root]
    while stack:
        children = expand(stack.pop())
        merges.append([children[0][0]] + [b for _, b, _ in children])
        stack.extend(state for _, _, state in children if state is not None)
    return Plan.from_merges(merges)


def _merge_bounds(raw) -> list[int]:
    """One merge as a validated boundary list: ≥ 3 strictly decreasing integers ≥ 0."""
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise DistillPlanError("plan", f"every merge must be a list of boundaries [a, c_1, ..., b], got {raw!r}")
    if len(raw) < 3:
        raise DistillPlanError("plan", f"a merge needs >= 3 boundaries (>= 2 children), got {list(raw)}")
    bounds = []
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise DistillPlanError("plan", f"boundaries must be integers >= 0, got {v!r} in {list(raw)}")
        bounds.append(int(v))
    if any(x <= y for x, y in zip(bounds, bounds[1:])):
        raise DistillPlanError("plan", f"boundaries must be strictly decreasing, got {bounds}")
    return bounds


def _nested_lists(text: str) -> list:
    """Nested Python lists of a bracket text, built with an explicit stack."""
    stack: list[list] = []
    root: list | None = None
    for token in _TOKEN.findall(text):
        if token == "[":
            stack.append([])
        elif token == "]":
            done = stack.pop()
            if stack:
                stack[-1].append(done)
            else:
                root = done
        elif token != ",":
            stack[-1].append(int(token))
    return root if root is not None else []
