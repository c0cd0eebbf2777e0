"""Pool workers that die with the process that started them.

:func:`init_worker` runs first in every local pool worker. On Linux it asks the kernel for
SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``; the kernel sends it when the parent
*thread* that spawned the worker exits, which is the thread running the sweep, alive as long as
the pool). On every platform a watchdog thread exits the worker once ``os.getppid()`` no longer
names the parent (it was re-parented), the fallback where ``prctl`` is missing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["init_worker", "WATCH_INTERVAL_S"]

WATCH_INTERVAL_S = 0.5
"""How often the watchdog thread checks the parent pid."""

_PR_SET_PDEATHSIG = 1


def init_worker(parent_pid: int) -> None:
    """Tie this worker's life to process ``parent_pid`` (pool initializer)."""
    _kill_on_parent_death()
    if os.getppid() != parent_pid:  # the parent died before the kernel was told
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="distillplan-watchdog", daemon=True).start()


def _kill_on_parent_death() -> bool:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux; False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL_S)
        if os.getppid() != parent_pid:
            os._exit(1)
