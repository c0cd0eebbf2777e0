"""Runtime policy of one run: the device, torch's thread count and flushing subnormal floats.

Devices are ``auto | cpu | cuda | cuda:<i> | mps`` (:func:`resolve_device`, availability checked).
``threads = 0`` means automatic: ``$DISTILLPLAN_THREADS`` when set, else 1 inside a worker
process of a sweep's process pool (the pool already runs one run per core by default, and
oversubscribing OpenMP threads slows everything down), else every core.
"""

from __future__ import annotations

import multiprocessing
import os
from contextlib import contextmanager
from typing import Iterator

import torch

from ..errors import DistillPlanError, check_device, check_int_at_least

__all__ = ["THREADS_ENV", "resolve_device", "resolve_threads", "torch_threads", "at_most_threads", "flush_denormals",
           "cpu_runtime"]

THREADS_ENV = "DISTILLPLAN_THREADS"


def resolve_device(spec: str = "auto", argument: str = "device") -> torch.device:
    """The torch device for ``spec``: ``auto`` (the first available of cuda, mps, cpu), ``cpu``, ``cuda``,
    ``cuda:<i>`` or ``mps``; a device this machine lacks raises :class:`DistillPlanError` naming ``argument``."""
    spec = check_device(argument, spec)
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            found = "no CUDA device" if count == 0 else f"{count} CUDA device(s)"
            raise DistillPlanError(argument, f"{spec} is not available ({found} on this machine); use auto or cpu")
    elif device.type == "mps" and not _mps_available():
        raise DistillPlanError(argument, "mps is not available on this machine; use auto or cpu")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_threads(requested: int = 0) -> int:
    """The thread count for ``requested`` (> 0: itself; 0: automatic, see the module docstring)."""
    requested = check_int_at_least("threads", requested, 0)
    if requested > 0:
        return requested
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise DistillPlanError(THREADS_ENV, f"must be a positive integer, got {env!r}")
        return int(env)
    if multiprocessing.parent_process() is not None:
        return 1
    return max(1, _available_cores())


@contextmanager
def torch_threads(requested: int = 0) -> Iterator[int]:
    """Set ``torch.set_num_threads(resolve_threads(requested))`` for the block, then restore it."""
    count = resolve_threads(requested)
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(previous)


@contextmanager
def at_most_threads(limit: int) -> Iterator[None]:
    """Cap torch's thread count at ``limit`` for the block (no change when already at or below it).

    Used for the many small element-wise/skinny ops of the RK4 teacher: with 2 threads each op is
    a parallel region whose threads must all be scheduled, and on a machine shared with other
    processes that wait dominates. Measured on the 2-core Xeon (16384 rows × 79 RK4 steps): 1
    thread 0.42–0.63 µs per row-step, 2 threads 2.2–5.1 µs under a load of 1–2 from other
    processes, and only 0.32 µs with 2 idle cores.
    """
    previous = torch.get_num_threads()
    if previous > limit:
        torch.set_num_threads(limit)
    try:
        yield
    finally:
        if previous > limit:
            torch.set_num_threads(previous)


@contextmanager
def flush_denormals() -> Iterator[None]:
    """Flush subnormal floats to zero for the block (``torch.set_flush_denormal``), then turn it off.

    The mixture softmax underflows far from a component; subnormal arithmetic takes a slow path
    on x86 (measured: softmax of large logits ~2.5x slower without this).
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@contextmanager
def cpu_runtime(threads: int = 0) -> Iterator[int]:
    """:func:`torch_threads` and :func:`flush_denormals` together; yields the thread count."""
    with torch_threads(threads) as count, flush_denormals():
        yield count


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
