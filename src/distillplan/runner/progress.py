"""Progress of a sweep on stderr: a rich bar on a terminal, else one plain line per finished run."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from typing import Any, Iterator

from .study import Study
from .sweep import Task

__all__ = ["STORED_ELSEWHERE", "Display", "progress_display"]

STORED_ELSEWHERE = object()
"""The outcome of a run that another process computed and stored while this one waited."""


class Display:
    """Silent progress: ``advance`` after each finished run, ``waiting`` when runs are held elsewhere."""

    def advance(self, task: Task, outcome: Any) -> None:
        """One more run is stored (``RunResult`` or :data:`STORED_ELSEWHERE`) or failed (an exception)."""

    def waiting(self, count: int, holders: str) -> None:
        """``count`` runs are being computed by other processes (``holders``, e.g. ``"host:123"``)."""


class _Lines(Display):
    """One line per finished run and one when waiting for other processes starts or changes."""

    def __init__(self, study: Study, total: int, already: int):
        self.study, self.total, self.count = study, total, already
        self.start = time.perf_counter()
        self.waited: tuple[int, str] = (0, "")

    def advance(self, task: Task, outcome: Any) -> None:
        self.count += 1
        if outcome is STORED_ELSEWHERE:
            status = "stored by another process"
        elif hasattr(outcome, "wall_s"):
            status = f"done in {outcome.wall_s:.1f} s"
        else:
            status = "FAILED"
        self._print(f"{self.count}/{self.total} [{describe(self.study, task)}] {status}; "
                    f"{time.perf_counter() - self.start:.0f} s elapsed")

    def waiting(self, count: int, holders: str) -> None:
        if count and (count, holders) != self.waited:
            self._print(f"waiting for {_runs(count)} being computed by {holders}")
        self.waited = (count, holders)

    def _print(self, text: str) -> None:
        print(f"{self.study.name}: {text}", file=sys.stderr, flush=True)


class _Bar(Display):
    """A rich progress bar whose description says when it waits for other processes."""

    def __init__(self, bar: Any, study: Study, already: int, total: int):
        self.bar, self.study, self.already = bar, study, already
        self.task_id = bar.add_task(self._label(), total=total, completed=already)

    def advance(self, task: Task, outcome: Any) -> None:
        self.bar.advance(self.task_id)

    def waiting(self, count: int, holders: str) -> None:
        suffix = f"; waiting for {_runs(count)} in {holders}" if count else ""
        self.bar.update(self.task_id, description=self._label() + suffix)

    def _label(self) -> str:
        return f"{self.study.name} ({self.already} stored)"


@contextmanager
def progress_display(enabled: bool, study: Study, total: int, already: int) -> Iterator[Display]:
    """The display for a sweep of ``total`` runs of which ``already`` are stored."""
    from rich.console import Console

    console = Console(stderr=True)
    if not enabled:
        yield Display()
        return
    if not console.is_terminal:
        yield _Lines(study, total, already)
        return
    from rich import progress as rp

    columns = (
        rp.TextColumn("{task.description}"),
        rp.BarColumn(),
        rp.MofNCompleteColumn(),
        rp.TimeElapsedColumn(),
        rp.TimeRemainingColumn(),
    )
    with rp.Progress(*columns, console=console) as bar:
        yield _Bar(bar, study, already, total)


def describe(study: Study, task: Task) -> str:
    """``field=value`` for the study's grouping fields that the config has (all its fields without
    ``group_by``), and the seed."""
    names = study.group_by or ([f.name for f in fields(task.config)] if is_dataclass(task.config) else ())
    parts = [f"{name}={getattr(task.config, name)}" for name in names if hasattr(task.config, name)]
    return " ".join(parts + [f"seed={task.seed}"])


def _runs(count: int) -> str:
    return f"{count} run" + ("" if count == 1 else "s")
