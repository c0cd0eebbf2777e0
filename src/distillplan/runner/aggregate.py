"""Mean ± standard deviation tables over seeds (and any other unlisted columns), as CSV or text.

Conventions: ``<metric>_std`` is the sample standard deviation (ddof=1); it is NaN when a group
has fewer than two values (a single seed says nothing about spread). ``n`` counts the rows of a
group; missing or ``None`` metric values are left out of that metric's mean and std.
"""

from __future__ import annotations

import csv
import json
import math
from numbers import Real
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..atomic import atomic_write
from ..errors import DistillPlanError
from .study import Row

__all__ = ["aggregate", "infer_metrics", "write_csv", "format_table"]


def infer_metrics(rows: Sequence[Row], exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """Columns whose values are all numbers (not bools, ``None`` allowed), minus ``exclude`` and ``seed``."""
    skip = set(exclude) | {"seed"}
    order: dict[str, bool] = {}
    for row in rows:
        for name, value in row.items():
            if name in skip:
                continue
            numeric = value is None or (isinstance(value, Real) and not isinstance(value, bool))
            order[name] = order.get(name, True) and numeric
    return tuple(name for name, numeric in order.items() if numeric)


def aggregate(rows: Sequence[Row], group_by: Sequence[str], metrics: Sequence[str] | None = None) -> list[Row]:
    """One output row per distinct ``group_by`` value, sorted by it, with ``n``, ``m_mean``, ``m_std``.

    ``metrics=None`` takes :func:`infer_metrics` of the rows, excluding ``group_by``.
    Example: rows ``[{"a": 1, "x": 1.0}, {"a": 1, "x": 3.0}]`` with ``group_by=["a"]`` give
    ``[{"a": 1, "n": 2, "x_mean": 2.0, "x_std": 1.4142...}]``.
    """
    group_by = tuple(group_by)
    metrics = infer_metrics(rows, exclude=group_by) if metrics is None else tuple(metrics)
    overlap = set(group_by) & set(metrics)
    if overlap:
        raise DistillPlanError("metrics", f"{sorted(overlap)} are also in group_by")
    groups: dict[str, tuple[tuple[Any, ...], list[Row]]] = {}
    for row in rows:
        values = tuple(row.get(name) for name in group_by)
        groups.setdefault(json.dumps(values, sort_keys=True, default=str), (values, []))[1].append(row)
    table = []
    for values, members in sorted(groups.values(), key=lambda item: tuple(_sort_key(v) for v in item[0])):
        out: Row = dict(zip(group_by, values))
        out["n"] = len(members)
        for metric in metrics:
            data = np.array([_number(metric, r[metric]) for r in members if r.get(metric) is not None], dtype=float)
            out[f"{metric}_mean"] = float(data.mean()) if data.size else math.nan
            out[f"{metric}_std"] = float(data.std(ddof=1)) if data.size > 1 else math.nan
        table.append(out)
    return table


def write_csv(table: Sequence[Row], path: str | Path) -> Path:
    """Write ``table`` to ``path`` atomically (columns in first-seen order; floats at full precision)."""
    path = Path(path)
    columns = _columns(table)
    with atomic_write(path, newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in table:
            writer.writerow([_cell(row.get(c)) for c in columns])
    return path


def format_table(table: Sequence[Row], digits: int = 4) -> str:
    """Plain-text table; each ``m_mean``/``m_std`` pair becomes one ``m`` column ``mean ± std``."""
    if not table:
        return "(no rows)"
    columns = _columns(table)
    metrics = [c[: -len("_mean")] for c in columns if c.endswith("_mean") and c[: -len("_mean")] + "_std" in columns]
    paired = {f"{m}_mean" for m in metrics} | {f"{m}_std" for m in metrics}
    plain = [c for c in columns if c not in paired]
    header = plain + metrics
    body = []
    for row in table:
        cells = [_text(row.get(c), digits) for c in plain]
        for m in metrics:
            mean, std = row.get(f"{m}_mean"), row.get(f"{m}_std")
            spread = "" if std is None or (isinstance(std, float) and math.isnan(std)) else f" ± {_text(std, 2)}"
            cells.append(_text(mean, digits) + spread)
        body.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    numeric = [all(_looks_numeric(r[i]) for r in body) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in body)])


# -- helpers ---------------------------------------------------------------------------------


def _number(metric: str, value: Any) -> float:
    if isinstance(value, Real):
        return float(value)
    raise DistillPlanError("metrics", f"column {metric!r} has a non-numeric value {value!r}")


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, Real) and not (isinstance(value, float) and math.isnan(value)):
        return (1, float(value))
    if isinstance(value, str):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True, default=str))


def _columns(table: Sequence[Row]) -> list[str]:
    seen: dict[str, None] = {}
    for row in table:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _text(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _looks_numeric(text: str) -> bool:
    try:
        float(text.split(" ± ")[0])
    except ValueError:
        return text == ""
    return True
