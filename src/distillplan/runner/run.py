"""``run_study``: run a study's sweep into a folder and write its tables and figures (what ``distillplan study`` does).

The folder holds ``results.sqlite`` (every finished run, so a rerun resumes and computes nothing already
stored), ``table.csv`` (mean ± std per ``group_by`` cell), one CSV per table of the study and its figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..io import check_output_dir
from .aggregate import aggregate, infer_metrics, write_csv
from .engines import SweepError, SweepReport, run_sweep
from .overrides import parse_overrides
from .store import ResultStore
from .study import Row, Study
from .sweep import Sweep, check_seeds

__all__ = ["StudyRun", "run_study"]


@dataclass
class StudyRun:
    """What :func:`run_study` did: the sweep's report, its stored rows, the aggregate table and the files written."""

    study: Study
    sweep: Sweep
    report: SweepReport
    rows: list[Row]
    table: list[Row]
    written: list[Path] = field(default_factory=list)
    wall_s: float = 0.0


def run_study(study: Study, out: str | Path, *, preset: str = "quick", sweep: Sweep | None = None,
              seeds: Sequence[int] | None = None, overrides: Mapping[str, Any] | Sequence[str] | None = None,
              engine: str = "local", workers: int | None = None, scheduler: str | None = None,
              connect_timeout: float = 5.0, progress: bool = True,
              announce: Callable[[str], None] | None = None) -> StudyRun:
    """Run ``study``'s ``preset`` sweep (or ``sweep``) into ``out`` and write its tables and figures.

    Args:
        seeds: replace the sweep's seeds.
        overrides: config fields to set in every run, as a mapping or as ``KEY=VALUE`` strings.
        engine, workers, scheduler, connect_timeout, progress: see :func:`~.engines.run_sweep`.
        announce: called with one line before any run starts (runs to compute, already stored, and the
            study's cost estimate when it has one).

    Every config is checked (ranges, and :meth:`preflight` where a config has one, e.g. the device is
    available) before the store is touched. Raises :class:`DistillPlanError` for bad input and
    :class:`~.engines.SweepError` when runs failed, after the finished runs' outputs are written
    (``error.result`` is the :class:`StudyRun`).
    """
    sweep = study.sweep(preset) if sweep is None else sweep
    if seeds is not None:
        sweep = sweep.with_seeds(check_seeds(seeds))
    if overrides:
        if not isinstance(overrides, Mapping):
            overrides = parse_overrides(overrides, sweep.config_type)
        sweep = sweep.with_overrides(overrides)
    for config in sweep.configs:
        getattr(config, "preflight", lambda: None)()
    out = check_output_dir("out", out)
    keys = [task.key for task in sweep.tasks()]
    start = time.perf_counter()
    with ResultStore(out / "results.sqlite") as store:
        failure = None
        try:
            report = run_sweep(study, sweep, store, engine=engine, workers=workers, scheduler=scheduler,
                               progress=progress, connect_timeout=connect_timeout,
                               announce=announce and (lambda report: announce(_announcement(study, sweep, report))))
        except SweepError as exc:
            failure, report = exc, exc.report
        rows = store.rows(study.name, keys=keys)
    result = StudyRun(study, sweep, report, rows, [], [])
    result.table, result.written = write_outputs(study, rows, out)
    result.wall_s = time.perf_counter() - start
    if failure is not None:
        failure.result = result
        raise failure
    return result


def write_outputs(study: Study, rows: list[Row], out: str | Path) -> tuple[list[Row], list[Path]]:
    """``table.csv`` (mean ± std per ``group_by`` cell), the study's own tables and its figures, from ``rows``."""
    out = Path(out)
    group_by = study.group_by or study.config_fields
    metrics = study.metrics or infer_metrics(rows, exclude=(*study.config_fields, *group_by))
    table = aggregate(rows, group_by, metrics)
    written = [write_csv(table, out / "table.csv")]
    if study.tables is not None:
        written += [write_csv(extra, out / f"{name}.csv") for name, extra in study.tables(rows).items()]
    if study.figures is not None and rows:
        written += list(study.figures(rows, out))
    return table, written


def _announcement(study: Study, sweep: Sweep, report: SweepReport) -> str:
    total, stored = report.total, report.skipped
    line = f"{study.name}: {total - stored} of {total} runs to compute ({stored} already stored)"
    if study.cost is not None and total > stored:
        seconds = sum(study.cost(task.config) for task in sweep.tasks()) * (total - stored) / total
        line += f"; estimated {_duration(seconds)} of CPU time ({study.cost_basis})"
    return line


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
