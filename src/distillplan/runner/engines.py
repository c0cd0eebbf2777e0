"""Run a sweep's pending tasks on an engine, claiming each before it is submitted, and store each
result as it arrives.

Engines only compute; the calling process writes its runs to the results store, one transaction
per finished run that also drops the run's claim, so killing it at any moment loses at most the
runs in flight (their claims go stale with it). Processes sharing a store split a sweep: each
claims a run right before submitting it, skips runs that live others claimed, and waits for those
until they are stored, taking over any whose claim goes stale.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..errors import DistillPlanError, check_int_at_least, check_positive
from .claims import Heartbeat, Owner
from .progress import STORED_ELSEWHERE, Display, progress_display
from .seeding import seed_everything
from .store import ResultStore, to_json
from .study import Row, RunFunction, Study
from .sweep import Sweep, Task
from .workers import init_worker

__all__ = ["ENGINES", "RunResult", "Failure", "SweepReport", "SweepError", "execute_task", "run_sweep"]

ENGINES = ("local", "dask")

POLL_S = 0.25
"""How often a sweep looks at runs that other processes are computing (and waits for results)."""


@dataclass(frozen=True)
class RunResult:
    """What a worker sends back: the run's rows (plain JSON values), its wall time and host."""

    rows: list[Row]
    wall_s: float
    host: str


@dataclass(frozen=True)
class Failure:
    """A task whose run raised; nothing was stored for it. ``exception`` is what it raised."""

    task: Task
    error: str
    traceback: str
    exception: BaseException | None = field(default=None, repr=False, compare=False)


@dataclass
class SweepReport:
    """Counts of one :func:`run_sweep` call; ``elsewhere`` counts runs another process stored meanwhile."""

    study: str
    total: int
    skipped: int
    completed: int = 0
    elsewhere: int = 0
    failures: list[Failure] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> str:
        """One line, e.g. ``"12 runs: 8 run now, 4 already stored, 0 failed in 3.1 s"``."""
        by_others = f"{self.elsewhere} run by another process, " if self.elsewhere else ""
        return (
            f"{self.total} runs: {self.completed} run now, {self.skipped} already stored, {by_others}"
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
            f"first: seed {first.task.seed}, {first.error.rstrip('.')}. "
            f"The {report.completed + report.skipped + report.elsewhere} "
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
    on_run: Callable[[Task, RunResult], None] | None = None,
    announce: Callable[[SweepReport], None] | None = None,
) -> SweepReport:
    """Run every task of ``sweep`` not yet in ``store``; store each run as soon as it finishes.

    Each run is claimed in the store before it is submitted. Runs claimed by another live process
    (one sharing the store) are not run here: this call waits until that process stores them, or
    takes them over when their claim goes stale (its owner died), so it returns only when every
    run is stored or failed here. A run that failed elsewhere (its claim released unstored) is
    retried here.

    Args:
        engine: ``"local"`` (a spawn process pool with ``workers`` processes, default the CPU
            count; ``workers=1`` runs in this process) or ``"dask"`` (the Dask cluster whose
            scheduler listens at ``scheduler``, e.g. ``"tcp://10.0.0.5:8786"``).
        progress: show a rich progress bar on stderr when it is a terminal; otherwise (a log file, a
            batch job) write one line per finished run to stderr.
        connect_timeout: seconds to wait for the Dask scheduler.
        on_run: called in this process with each run it computed, once the run is stored.
        announce: called with the (empty) report once the pending runs are known, before any runs.

    Worker processes import the study's ``run`` by module name, so that module must be importable
    there (Dask workers need distillplan installed), and a script calling this with ``workers > 1``
    needs the usual ``if __name__ == "__main__":`` guard (the pool uses spawn). Local pool
    workers die with the process that runs the sweep (:mod:`.workers`).

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
        if pending:
            sweeper = _Sweeper(store, study.name, report, on_run)
            with ExitStack() as stack:
                display = stack.enter_context(progress_display(progress, study, len(tasks), report.skipped))
                stack.callback(sweeper.release)  # after the engine has stopped
                slots = min(workers or os.cpu_count() or 1, len(pending))
                runner = stack.enter_context(_engine(study.run, client, slots))
                stack.enter_context(Heartbeat(store.path, sweeper.owner, store.stale_after_s / 4))
                sweeper.run(pending, runner, display)
    finally:
        if client is not None:
            client.close()
    report.wall_s = time.perf_counter() - start
    if report.failures:
        raise SweepError(report)
    return report


class _Sweeper:
    """Claims, submits, stores and waits until every pending task is stored here, elsewhere, or failed."""

    engine: "_Engine"
    display: Display

    def __init__(self, store: ResultStore, study: str, report: SweepReport,
                 on_run: Callable[[Task, RunResult], None] | None):
        self.store, self.study, self.report, self.on_run = store, study, report, on_run
        self.owner = Owner.current()
        self.queue: deque[Task] = deque()
        self.held: dict[str, Task] = {}  # claimed by other live processes
        self.mine: set[str] = set()  # claimed here, not yet stored or released
        self.last_look = -POLL_S

    def run(self, tasks: list[Task], engine: "_Engine", display: Display) -> None:
        """Work through ``tasks`` on ``engine`` until none is queued, held elsewhere or running."""
        self.engine, self.display = engine, display
        self.queue.extend(tasks)
        while self.queue or self.held or self.engine.busy:
            self._submit_claimed()
            if self.engine.busy:
                for task, outcome in self.engine.finished(timeout=POLL_S):
                    self._settle(task, outcome)
            elif self.held:
                time.sleep(POLL_S)
            self._look_at_held()

    def release(self) -> None:
        """Drop the claims still held here (runs interrupted before they were stored)."""
        if self.mine:
            self.store.release(self.mine, self.owner)
            self.mine.clear()

    def _submit_claimed(self) -> None:
        """Claim queued tasks and submit them while the engine has free slots."""
        while self.queue and self.engine.free_slots > 0:
            task = self.queue.popleft()
            outcome = self.store.claim(task.key, self.owner)
            if outcome == "claimed":
                self.mine.add(task.key)
                self.engine.submit(task)
            elif outcome == "stored":
                self._stored_elsewhere(task)
            else:
                self.held[task.key] = task

    def _settle(self, task: Task, outcome: Any) -> None:
        """Store a finished run (which drops its claim), or release the claim of a failed one."""
        if isinstance(outcome, RunResult):
            self.store.record(task, outcome.rows, outcome.wall_s, outcome.host)
            self.report.completed += 1
        else:
            self.store.release([task.key], self.owner)
            self.report.failures.append(_failure(task, outcome))
        self.mine.discard(task.key)
        self.display.advance(task, outcome)
        if self.on_run is not None and isinstance(outcome, RunResult):
            self.on_run(task, outcome)

    def _look_at_held(self) -> None:
        """Count held runs that got stored; queue those whose claim is gone or stale (at most every POLL_S)."""
        now = time.monotonic()
        if not self.held or now - self.last_look < POLL_S:
            return
        self.last_look = now
        done = self.store.done_keys(self.study)
        claims = self.store.claims(self.held)
        wall_now = time.time()
        for key in list(self.held):
            if key in done:
                self._stored_elsewhere(self.held.pop(key))
            elif key not in claims or claims[key].is_stale(wall_now, self.store.stale_after_s):
                self.queue.append(self.held.pop(key))
        holders = ", ".join(sorted({str(claims[k].owner) for k in self.held if k in claims}))
        self.display.waiting(len(self.held), holders)

    def _stored_elsewhere(self, task: Task) -> None:
        self.report.elsewhere += 1
        self.display.advance(task, STORED_ELSEWHERE)


# -- engines: submit tasks, collect (task, RunResult | exception) as runs finish ---------------


class _Engine:
    """Runs submitted tasks; ``slots`` of them at a time."""

    slots = 1

    def __init__(self) -> None:
        self.in_flight = 0

    @property
    def busy(self) -> bool:
        return self.in_flight > 0

    @property
    def free_slots(self) -> int:
        return self.slots - self.in_flight

    def submit(self, task: Task) -> None:
        raise NotImplementedError

    def finished(self, timeout: float) -> list[tuple[Task, Any]]:
        """Runs that finished within ``timeout`` seconds (maybe none)."""
        raise NotImplementedError

    def close(self, clean: bool) -> None:
        """Free the engine; ``clean=False`` (an interrupt) drops queued work instead of waiting."""


class _InProcess(_Engine):
    """Runs each task in this process when its result is asked for."""

    def __init__(self, run: RunFunction):
        super().__init__()
        self.run = run
        self.queue: deque[Task] = deque()

    def submit(self, task: Task) -> None:
        self.queue.append(task)
        self.in_flight += 1

    def finished(self, timeout: float) -> list[tuple[Task, Any]]:
        task = self.queue.popleft()
        self.in_flight -= 1
        try:
            return [(task, execute_task(self.run, task.config, task.seed))]
        except Exception as exc:  # noqa: BLE001 - reported as a failed run
            return [(task, exc)]


class _LocalPool(_Engine):
    """A spawn process pool of ``workers`` processes, started on the first submit.

    A worker that dies (a crash, the OOM killer) breaks the pool: the runs in flight fail, and
    the next submit starts a new pool.
    """

    def __init__(self, run: RunFunction, workers: int):
        super().__init__()
        self.run, self.slots = run, workers
        self.pool: ProcessPoolExecutor | None = None
        self.futures: dict[Any, Task] = {}

    def submit(self, task: Task) -> None:
        try:
            future = self._pool().submit(execute_task, self.run, task.config, task.seed)
        except BrokenProcessPool:
            self._pool().shutdown(wait=False)
            self.pool = None
            future = self._pool().submit(execute_task, self.run, task.config, task.seed)
        self.futures[future] = task
        self.in_flight += 1

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                max_workers=self.slots, mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker, initargs=(os.getpid(),),
            )
        return self.pool

    def finished(self, timeout: float) -> list[tuple[Task, Any]]:
        done, _ = wait(self.futures, timeout=timeout, return_when=FIRST_COMPLETED)
        self.in_flight -= len(done)
        return [(self.futures.pop(f), _pool_outcome(f)) for f in done]

    def close(self, clean: bool) -> None:
        if self.pool is not None:
            # On an interrupt, drop queued tasks instead of waiting for the whole sweep.
            self.pool.shutdown(wait=clean, cancel_futures=not clean)


def _pool_outcome(future) -> Any:
    exc = future.exception()
    return exc if exc is not None else future.result()


class _Dask(_Engine):
    """Futures on a Dask cluster; one slot per worker thread it has when the sweep starts."""

    def __init__(self, client, run: RunFunction):
        from distributed import as_completed

        super().__init__()
        self.client, self.run = client, run
        self.slots = max(1, sum(client.nthreads().values()))
        self.futures: dict[Any, Task] = {}
        self.arrived = as_completed(loop=client.loop)

    def submit(self, task: Task) -> None:
        future = self.client.submit(execute_task, self.run, task.config, task.seed, pure=False)
        self.futures[future] = task
        self.arrived.add(future)
        self.in_flight += 1

    def finished(self, timeout: float) -> list[tuple[Task, Any]]:
        deadline = time.monotonic() + timeout
        while not self.arrived.has_ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        batch = self.arrived.next_batch(block=False) if self.arrived.has_ready() else []
        self.in_flight -= len(batch)
        return [(self.futures.pop(f), self._outcome(f)) for f in batch]

    @staticmethod
    def _outcome(future) -> Any:
        if future.status == "error":
            outcome = future.exception()
        else:
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - cancelled or lost: a failed run
                outcome = exc
        future.release()
        return outcome

    def close(self, clean: bool) -> None:
        if self.futures:
            self.client.cancel(list(self.futures))


@contextmanager
def _engine(run: RunFunction, client, workers: int) -> Iterator[_Engine]:
    """Dask if ``client``, else a pool of ``workers`` processes or, for one worker, this process."""
    if client is not None:
        engine: _Engine = _Dask(client, run)
    elif workers == 1:
        engine = _InProcess(run)
    else:
        engine = _LocalPool(run, workers)
    clean = False
    try:
        yield engine
        clean = True
    finally:
        engine.close(clean)


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
    return Failure(task, f"{type(exc).__name__}: {exc}", text, exc)
