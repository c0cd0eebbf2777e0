"""``KEY=VALUE`` overrides of config fields (the CLI's ``--set``), typed by the config dataclass."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Sequence

from ..errors import DistillPlanError

__all__ = ["parse_overrides", "coerce_value"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"none", "null"}


def parse_overrides(assignments: Sequence[str], config_type: type) -> dict[str, Any]:
    """``["dataset=cifar", "steps=8"]`` -> ``{"dataset": "cifar", "steps": 8}``, typed by the fields.

    Values are converted to the field's annotated type (str, int, float, bool, ``X | None``,
    ``Literal[...]``, ``tuple[X, ...]``/``list[X]`` given as JSON or comma-separated); fields of
    other types take JSON. Unknown fields, repeated keys and unconvertible values raise
    :class:`DistillPlanError` naming ``--set KEY``.
    """
    fields = {f.name: f for f in dataclasses.fields(config_type) if f.init}
    hints = typing.get_type_hints(config_type)
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DistillPlanError("--set", f"expected KEY=VALUE, got {item!r}")
        if key not in fields:
            raise DistillPlanError(
                "--set", f"unknown field {key!r} of {config_type.__name__}; fields are {list(fields)}"
            )
        if key in out:
            raise DistillPlanError(f"--set {key}", "given more than once")
        out[key] = coerce_value(f"--set {key}", raw, hints.get(key, Any))
    return out


def coerce_value(argument: str, raw: str, hint: Any) -> Any:
    """Convert the text ``raw`` to type ``hint``, or raise :class:`DistillPlanError` naming ``argument``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    text = raw.strip()
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and text.lower() in _NONE:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options:
            try:
                return coerce_value(argument, raw, option)
            except DistillPlanError:
                continue
        raise DistillPlanError(argument, f"{raw!r} is not a {_name(hint)}")
    if origin is typing.Literal:
        for choice in args:
            try:
                value = coerce_value(argument, raw, type(choice))
            except DistillPlanError:
                continue
            if value == choice:
                return choice
        raise DistillPlanError(argument, f"must be one of {list(args)}, got {raw!r}")
    if origin in (tuple, list) or hint in (tuple, list):
        items = _list_items(argument, text)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            item_types = [args[0]] * len(items)
        elif origin is tuple and args:
            if len(args) != len(items):
                raise DistillPlanError(argument, f"needs {len(args)} values, got {len(items)}")
            item_types = list(args)
        else:
            item_types = [args[0] if args else Any] * len(items)
        values = [coerce_value(argument, v, t) for v, t in zip(items, item_types)]
        return tuple(values) if (origin or hint) is tuple else values
    if hint is str:
        return raw
    if hint is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise DistillPlanError(argument, f"must be true or false, got {raw!r}")
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise DistillPlanError(argument, f"must be an integer, got {raw!r}") from None
    if hint is float:
        try:
            return float(text)
        except ValueError:
            raise DistillPlanError(argument, f"must be a number, got {raw!r}") from None
    try:
        return json.loads(text)
    except ValueError:
        return raw


def _list_items(argument: str, text: str) -> list[str]:
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise DistillPlanError(argument, f"invalid JSON list {text!r} ({exc})") from None
        return [json.dumps(v) if not isinstance(v, str) else v for v in items]
    return [part.strip() for part in text.split(",")] if text else []


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
