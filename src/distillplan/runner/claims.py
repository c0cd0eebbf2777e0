"""Who is computing a run: claim owners, their liveness and the heartbeat that keeps claims fresh.

A claim names its owner by host, pid and a start token (the process start time from
``/proc/<pid>/stat`` on Linux, so a reused pid is not mistaken for the owner). A claim is stale,
and may be taken over, when its heartbeat is older than ``stale_after_s`` (any host) or when its
owner is on this host and is no longer running (pid gone, a zombie, or another start token).
"""

from __future__ import annotations

import functools
import os
import socket
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Claim", "Heartbeat", "Owner", "STALE_AFTER_S", "process_alive"]

STALE_AFTER_S = 120.0
"""Default age of the last heartbeat after which a claim is stale, whatever its owner's host."""


@dataclass(frozen=True)
class Owner:
    """One process that may claim runs: ``host``, ``pid`` and ``token`` (its start token)."""

    host: str
    pid: int
    token: str

    @staticmethod
    def current() -> "Owner":
        """This process."""
        return _owner_of(os.getpid())

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


@dataclass(frozen=True)
class Claim:
    """A run being computed by ``owner`` since ``claimed_at``; ``heartbeat`` is its last refresh."""

    key: str
    owner: Owner
    claimed_at: float
    heartbeat: float

    def is_stale(self, now: float, stale_after_s: float) -> bool:
        """True when the heartbeat is too old, or the owner runs on this host and is dead."""
        if now - self.heartbeat > stale_after_s:
            return True
        if self.owner.host == socket.gethostname():
            return not process_alive(self.owner.pid, self.owner.token)
        return False


def process_alive(pid: int, token: str) -> bool:
    """Whether process ``pid`` of this host runs and (where ``/proc`` tells) has start token ``token``."""
    if pid <= 0:
        return False
    if _has_proc():
        stat = _proc_stat(pid)
        return stat is not None and stat[0] not in "ZX" and stat[1] == token
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """A daemon thread that refreshes ``owner``'s claims in the store at ``path`` every ``interval_s``.

    It uses its own SQLite connection; a busy or failing refresh is retried at the next beat
    (a missed beat only brings the claims closer to being taken over).
    """

    def __init__(self, path: str | Path, owner: Owner, interval_s: float):
        self.path, self.owner, self.interval_s = Path(path), owner, float(interval_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="distillplan-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        from .store import ResultStore

        with ResultStore(self.path) as store:
            while not self._stop.wait(self.interval_s):
                try:
                    store.refresh(self.owner)
                except (sqlite3.Error, OSError):
                    continue


# -- process identity ------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _owner_of(pid: int) -> Owner:
    stat = _proc_stat(pid) if _has_proc() else None
    token = stat[1] if stat is not None else f"r{uuid.uuid4().hex}"
    return Owner(socket.gethostname(), pid, token)


@functools.lru_cache(maxsize=1)
def _has_proc() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/stat")


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of ``pid`` from ``/proc``, or None if it is gone."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "; comm may hold spaces
    return fields[0], fields[19]  # fields 3 (state) and 22 (starttime) of proc(5)
