"""Run a sweep's pending tasks on an engine and store each result as it arrives.

Engines only compute; the calling process is the single writer of the results store, one
transaction per finished run, so killing it at any moment loses at most the runs in flight.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Callable, Iterator, Sequence

from ..errors import DistillPlanError, check_int_at_least, check_positive
from .seeding import seed_everything
from .store import ResultStore, to_json
from .study import Row, RunFunction, Study
from .sweep import Sweep, Task

__all__ = ["ENGINES", "RunResult", "Failure", "SweepReport", "SweepError", "execute_task", "run_sweep"]

ENGINES = ("local", "dask")


@dataclass(frozen=True)
class RunResult:
    """What a worker sends back: the run's rows (plain JSON values), its wall time and host."""

    rows: list[Row]
    wall_s: float
    host: str


@dataclass(frozen=True)
class Failure:
    """A task whose run raised; nothing was stored for it."""

    task: Task
    error: str
    traceback: str


@dataclass
class SweepReport:
    """Counts of one :func:`run_sweep` call."""

    study: str
    total: int
    skipped: int
    completed: int = 0
    failures: list[Failure] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> str:
        """One line, e.g. ``"12 runs: 8 run now, 4 already stored, 0 failed in 3.1 s"``."""
        return (
            f"{self.total} runs: {self.completed} run now, {self.skipped} already stored, "
            f"{len(self.failures)} failed in {self.wall_s:.1f} s"
        )


class SweepError(RuntimeError):
    """Some runs raised. The others were stored; re-running the sweep retries only the failed ones."""

    def __init__(self, report: SweepReport):
        self.report = report
        failures = report.failures
        keys = ", ".join(f.task.key[:12] for f in failures[:5]) + (" ..." if len(failures) > 5 else "")
        first = failures[0]
        super().__init__(
            f"{len(failures)} of {report.total} runs of study {report.study!r} failed (keys {keys}); "
            f"first: seed {first.task.seed}, {first.error.rstrip('.')}. The {report.completed + report.skipped} "
            "finished runs are stored; re-run to retry the failed ones."
        )


def execute_task(run: RunFunction, config: Any, seed: int) -> RunResult:
    """Seed everything, call ``run(config, seed)`` and check its rows (runs inside a worker)."""
    seed_everything(seed)
    start = time.perf_counter()
    rows = run(config, seed)
    wall_s = time.perf_counter() - start
    return RunResult(_plain_rows(rows), wall_s, socket.gethostname())


def run_sweep(
    study: Study,
    sweep: Sweep,
    store: ResultStore,
    engine: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    connect_timeout: float = 5.0,
    announce: Callable[[SweepReport], None] | None = None,
) -> SweepReport:
    """Run every task of ``sweep`` not yet in ``store``; store each run as soon as it finishes.

    Args:
        engine: ``"local"`` (a spawn process pool with ``workers`` processes, default the CPU
            count; ``workers=1`` runs in this process) or ``"dask"`` (the Dask cluster whose
            scheduler listens at ``scheduler``, e.g. ``"tcp://10.0.0.5:8786"``).
        progress: show a rich progress bar on stderr when it is a terminal; otherwise (a log file, a
            batch job) write one line per finished run to stderr.
        connect_timeout: seconds to wait for the Dask scheduler.
        announce: called with the (empty) report once the pending runs are known, before any runs.

    Worker processes import the study's ``run`` by module name, so that module must be importable
    there (Dask workers need distillplan installed), and a script calling this with ``workers > 1``
    needs the usual ``if __name__ == "__main__":`` guard (the pool uses spawn).

    Raises:
        DistillPlanError: bad arguments or an unreachable scheduler, before the store is touched.
        SweepError: after all other runs finished and were stored, if some runs raised.
    """
    if engine not in ENGINES:
        raise DistillPlanError("engine", f"must be one of {list(ENGINES)}, got {engine!r}")
    if sweep.study_name != study.name:
        raise DistillPlanError("sweep", f"belongs to study {sweep.study_name!r}, not {study.name!r}")
    if workers is not None:
        workers = check_int_at_least("workers", workers, 1)
    connect_timeout = check_positive("connect_timeout", connect_timeout)
    if engine == "local" and scheduler is not None:
        raise DistillPlanError("scheduler", "is only used with engine 'dask'")
    client = _connect_dask(scheduler, connect_timeout) if engine == "dask" else None

    start = time.perf_counter()
    try:
        tasks = list(sweep.tasks())
        done = store.done_keys(study.name)
        pending = [t for t in tasks if t.key not in done]
        report = SweepReport(study.name, total=len(tasks), skipped=len(tasks) - len(pending))
        if announce is not None:
            announce(report)
        if client is not None:
            outcomes = _dask_outcomes(client, study.run, pending)
        else:
            outcomes = _local_outcomes(study.run, pending, workers or os.cpu_count() or 1)
        with closing(outcomes), _progress(progress, study, len(tasks), report.skipped) as advance:
            for task, outcome in outcomes:
                if isinstance(outcome, RunResult):
                    store.record(task, outcome.rows, outcome.wall_s, outcome.host)
                    report.completed += 1
                else:
                    report.failures.append(_failure(task, outcome))
                advance(task, outcome)
    finally:
        if client is not None:
            client.close()
    report.wall_s = time.perf_counter() - start
    if report.failures:
        raise SweepError(report)
    return report


# -- engines: each yields (task, RunResult | exception) as runs finish --------------------------


def _local_outcomes(run: RunFunction, tasks: Sequence[Task], workers: int) -> Iterator[tuple[Task, Any]]:
    if workers == 1:
        for task in tasks:
            try:
                yield task, execute_task(run, task.config, task.seed)
            except Exception as exc:  # noqa: BLE001 - reported as a failed run
                yield task, exc
        return
    if not tasks:
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=multiprocessing.get_context("spawn"))
    clean = False
    try:
        futures = {pool.submit(execute_task, run, t.config, t.seed): t for t in tasks}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                exc = future.exception()
                yield futures.pop(future), (exc if exc is not None else future.result())
        clean = True
    finally:
        # On an interrupt, drop queued tasks instead of waiting for the whole sweep.
        pool.shutdown(wait=clean, cancel_futures=not clean)


def _connect_dask(scheduler: str | None, timeout: float):
    if not scheduler:
        raise DistillPlanError("scheduler", "engine 'dask' needs a scheduler address, e.g. tcp://HOST:8786")
    try:
        from distributed import Client
    except ImportError:
        raise DistillPlanError(
            "engine", "engine 'dask' needs dask.distributed: pip install 'distillplan[dask]'"
        ) from None
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DistillPlanError(
            "scheduler", f"cannot reach Dask scheduler {scheduler!r} within {timeout:g} s ({reason})"
        ) from None


def _dask_outcomes(client, run: RunFunction, tasks: Sequence[Task]) -> Iterator[tuple[Task, Any]]:
    from distributed import as_completed

    if not tasks:
        return
    futures = {client.submit(execute_task, run, t.config, t.seed, pure=False): t for t in tasks}
    try:
        for future in as_completed(list(futures), loop=client.loop):
            task = futures.pop(future)
            if future.status == "error":
                outcome = future.exception()
            else:
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 - cancelled or lost: a failed run
                    outcome = exc
            future.release()
            yield task, outcome
    finally:
        if futures:
            client.cancel(list(futures))


# -- helpers ---------------------------------------------------------------------------------


def _plain_rows(rows: Any) -> list[Row]:
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"run must return a list of dicts, got {type(rows).__name__}")
    plain = []
    for row in rows:
        bad = [k for k in row if not isinstance(k, str)]
        if bad:
            raise TypeError(f"row keys must be strings, got {bad!r}")
        plain.append(json.loads(to_json(row)))
    return plain


def _failure(task: Task, exc: BaseException) -> Failure:
    text = "".join(traceback.format_exception(exc))
    return Failure(task, f"{type(exc).__name__}: {exc}", text)


@contextmanager
def _progress(enabled: bool, study: Study, total: int, already: int) -> Iterator[Callable[[Task, Any], None]]:
    """``advance(task, outcome)`` after each run: a rich bar on a terminal, else one plain line per run."""
    from rich.console import Console

    console = Console(stderr=True)
    if not enabled:
        yield lambda task, outcome: None
        return
    if not console.is_terminal:
        start = time.perf_counter()
        count = already

        def log(task: Task, outcome: Any) -> None:
            nonlocal count
            count += 1
            status = f"done in {outcome.wall_s:.1f} s" if isinstance(outcome, RunResult) else "FAILED"
            print(f"{study.name}: {count}/{total} [{_describe(study, task)}] {status}; "
                  f"{time.perf_counter() - start:.0f} s elapsed", file=sys.stderr, flush=True)

        yield log
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
        task_id = bar.add_task(f"{study.name} ({already} stored)", total=total, completed=already)
        yield lambda task, outcome: bar.advance(task_id)


def _describe(study: Study, task: Task) -> str:
    """``field=value`` for the study's grouping fields that the config has (all its fields without
    ``group_by``), and the seed."""
    names = study.group_by or ([f.name for f in fields(task.config)] if is_dataclass(task.config) else ())
    parts = [f"{name}={getattr(task.config, name)}" for name in names if hasattr(task.config, name)]
    return " ".join(parts + [f"seed={task.seed}"])
