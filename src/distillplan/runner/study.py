"""What a study is: a typed config, a seeded ``run`` function and named preset sweeps."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import DistillPlanError

__all__ = ["Study", "Row", "RunFunction"]

Row = dict[str, Any]
"""One result row: JSON-serialisable values keyed by column name."""

RunFunction = Callable[[Any, int], list[Row]]
"""``run(config, seed) -> rows``; must be a module-level function so worker processes can unpickle it."""


@dataclass(frozen=True)
class Study:
    """A reproducible study.

    Attributes:
        name: registry name, e.g. ``"stability-grid"``.
        config_type: a frozen dataclass whose fields are JSON-serialisable (numbers, strings,
            bools, None, tuples/lists and dicts of those).
        run: ``run(config, seed) -> list[dict]``; deterministic given ``(config, seed)``.
        presets: preset name (``"quick"``, ``"paper"``) -> zero-argument function returning a
            :class:`~distillplan.runner.sweep.Sweep`.
        group_by: columns that define one row of the aggregate table; default: every config field.
        metrics: numeric row columns to aggregate; default: every numeric column that is not a
            config field, ``seed`` or in ``group_by``.
        figures: optional ``figures(rows, out_dir) -> [paths written]``; ``rows`` are the flat rows
            of :meth:`ResultStore.rows`.
        tables: optional ``tables(rows) -> {name: table}``; each table (a list of dicts) is
            written to ``out_dir/<name>.csv`` next to the default ``table.csv``.
        description: one line shown by ``--help``-style listings.
        cost: optional ``cost(config) -> seconds``: the estimated CPU time of one run, announced before a
            sweep starts; ``cost_basis`` says what it is scaled from (a measured run, the machine).
    """

    name: str
    config_type: type
    run: RunFunction
    presets: dict[str, Callable[[], Any]] = field(default_factory=dict)
    group_by: tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None
    figures: Callable[[list[Row], Path], list[Path]] | None = None
    tables: Callable[[list[Row]], dict[str, list[Row]]] | None = None
    description: str = ""
    cost: Callable[[Any], float] | None = None
    cost_basis: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DistillPlanError("name", f"must be a non-empty string, got {self.name!r}")
        if not (isinstance(self.config_type, type) and dataclasses.is_dataclass(self.config_type)):
            raise DistillPlanError("config_type", f"must be a dataclass type, got {self.config_type!r}")
        if not callable(self.run):
            raise DistillPlanError("run", "must be a callable run(config, seed) -> list[dict]")
        for preset, make in self.presets.items():
            if not callable(make):
                raise DistillPlanError("presets", f"preset {preset!r} must be a zero-argument callable")
        for attr in ("group_by", "metrics"):
            value = getattr(self, attr)
            if value is not None:
                object.__setattr__(self, attr, tuple(value))

    @property
    def config_fields(self) -> tuple[str, ...]:
        """Names of the config dataclass fields, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(self.config_type))

    def sweep(self, preset: str):
        """The :class:`Sweep` of a named preset; unknown names raise :class:`DistillPlanError`."""
        make = self.presets.get(preset)
        if make is None:
            raise DistillPlanError(
                "preset", f"unknown preset {preset!r} for study {self.name!r}; choose from {sorted(self.presets)}"
            )
        return make()
