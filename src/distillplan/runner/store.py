"""The results store: one SQLite file; a run and its rows are committed together or not at all.

Runs being computed are claimed in the ``claims`` table, so processes sharing a store compute
each run once: a claim is taken in one transaction that first checks the run is not stored and
not claimed by a live owner (see :mod:`.claims`), and storing a run deletes its claim in the
transaction that writes it.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from ..errors import DistillPlanError
from .claims import STALE_AFTER_S, Claim, Owner
from .study import Row
from .sweep import Task, canonical_json

__all__ = ["ClaimOutcome", "ResultStore", "to_json"]

ClaimOutcome = Literal["claimed", "stored", "held"]
"""What :meth:`ResultStore.claim` did: claimed the run, found it stored, or found it held by a live owner."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    study TEXT NOT NULL,
    config_json TEXT NOT NULL,
    seed INTEGER NOT NULL,
    wall_s REAL NOT NULL,
    finished_at REAL NOT NULL,
    host TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_study ON runs(study);
CREATE TABLE IF NOT EXISTS rows (
    key TEXT NOT NULL REFERENCES runs(key),
    idx INTEGER NOT NULL,
    row_json TEXT NOT NULL,
    PRIMARY KEY (key, idx)
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    token TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    heartbeat REAL NOT NULL
);
"""


def to_json(value: Any) -> str:
    """JSON text of ``value``; numpy scalars/arrays become plain numbers/lists, NaN/inf are kept."""
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalars and arrays, torch tensors
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


class ResultStore:
    """Persistent, append-only results of a study's runs, in an SQLite file.

    The file (and its folder) is created on first use, not on construction; a store written
    before claims existed gets its ``claims`` table then. Writes are idempotent: a run already
    stored is never written twice. ``stale_after_s`` is the heartbeat age after which another
    process's claim may be taken over. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path, *, timeout_s: float = 30.0, stale_after_s: float = STALE_AFTER_S):
        self.path = Path(path)
        self.timeout_s = float(timeout_s)
        self.stale_after_s = float(stale_after_s)
        self._conn: sqlite3.Connection | None = None

    # -- connection -----------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path.exists() and self.path.is_dir():
                raise DistillPlanError("out", f"{self.path} is a folder, expected a results file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            deadline = time.monotonic() + self.timeout_s
            while True:
                try:
                    self._conn = self._open()
                    break
                except sqlite3.OperationalError as exc:
                    # Switching to WAL or creating the schema needs a lock the busy handler does not wait for:
                    # a second process opening the same new store retries until the first is done.
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise DistillPlanError("out", f"{self.path} is not a distillplan results store ({exc})") from None
                    time.sleep(0.05)
                except sqlite3.DatabaseError as exc:
                    raise DistillPlanError("out", f"{self.path} is not a distillplan results store ({exc})") from None
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def record(self, task: Task, rows: Iterable[Row], wall_s: float, host: str | None = None) -> bool:
        """Store one finished run and its rows, and drop any claim on it, in a single transaction.

        Returns False (and writes no run) when the run is already stored.
        """
        row_texts = [to_json(dict(row)) for row in rows]
        config_json = canonical_json(task.config)
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO runs (key, study, config_json, seed, wall_s, finished_at, host)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    task.key, task.study, config_json, int(task.seed),
                    float(wall_s), time.time(), host or socket.gethostname(),
                ),
            )
            inserted = cur.rowcount == 1
            if inserted:
                conn.executemany(
                    "INSERT OR IGNORE INTO rows (key, idx, row_json) VALUES (?, ?, ?)",
                    [(task.key, i, text) for i, text in enumerate(row_texts)],
                )
            conn.execute("DELETE FROM claims WHERE key = ?", (task.key,))
        return inserted

    # -- claims -----------------------------------------------------------------------------
    def claim(self, key: str, owner: Owner) -> ClaimOutcome:
        """Claim run ``key`` for ``owner`` unless it is stored or claimed by another live owner.

        One transaction: a missing, stale or own claim is (re)written with fresh timestamps.
        """
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone():
                return "stored"
            now = time.time()
            held = self._claims(conn, [key]).get(key)
            if held is not None and held.owner != owner and not held.is_stale(now, self.stale_after_s):
                return "held"
            conn.execute(
                "INSERT OR REPLACE INTO claims (key, host, pid, token, claimed_at, heartbeat)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, owner.host, owner.pid, owner.token, now, now),
            )
        return "claimed"

    def release(self, keys: Iterable[str], owner: Owner) -> None:
        """Drop ``owner``'s claims on ``keys`` (claims of others are left alone)."""
        with self._transaction() as conn:
            conn.executemany(
                "DELETE FROM claims WHERE key = ? AND host = ? AND pid = ? AND token = ?",
                [(key, owner.host, owner.pid, owner.token) for key in keys],
            )

    def refresh(self, owner: Owner) -> int:
        """Set the heartbeat of every claim of ``owner`` to now; returns how many there are."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE claims SET heartbeat = ? WHERE host = ? AND pid = ? AND token = ?",
                (time.time(), owner.host, owner.pid, owner.token),
            )
        return cur.rowcount

    def claims(self, keys: Iterable[str] | None = None) -> dict[str, Claim]:
        """Current claims by key (of ``keys``, or all), stale ones included."""
        return self._claims(self.conn, None if keys is None else list(keys))

    @staticmethod
    def _claims(conn: sqlite3.Connection, keys: list[str] | None) -> dict[str, Claim]:
        query = "SELECT key, host, pid, token, claimed_at, heartbeat FROM claims"
        if keys is None:
            found = conn.execute(query).fetchall()
        else:
            found = [row for key in keys for row in conn.execute(query + " WHERE key = ?", (key,))]
        return {
            key: Claim(key, Owner(host, pid, token), claimed_at, heartbeat)
            for key, host, pid, token, claimed_at, heartbeat in found
        }

    # -- reads ------------------------------------------------------------------------------
    def done_keys(self, study: str) -> set[str]:
        """Keys of the runs of ``study`` already stored."""
        return {k for (k,) in self.conn.execute("SELECT key FROM runs WHERE study = ?", (study,))}

    def count_runs(self, study: str | None = None) -> int:
        """Number of stored runs (of one study, or all)."""
        if study is None:
            return self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM runs WHERE study = ?", (study,)).fetchone()[0]

    def rows(self, study: str, keys: Iterable[str] | None = None) -> list[Row]:
        """Flat rows ``{config fields..., "seed": s, row fields...}`` of ``study``.

        Ordered by (config JSON, seed, row index), so the result does not depend on the order in
        which runs finished. ``keys`` restricts to those runs (e.g. one sweep's tasks). A row
        field with the name of a config field overrides it.
        """
        wanted = None if keys is None else set(keys)
        out: list[Row] = []
        query = (
            "SELECT runs.key, runs.config_json, runs.seed, rows.row_json FROM runs"
            " JOIN rows ON rows.key = runs.key WHERE runs.study = ?"
            " ORDER BY runs.config_json, runs.seed, rows.idx"
        )
        for key, config_json, seed, row_json in self.conn.execute(query, (study,)):
            if wanted is not None and key not in wanted:
                continue
            out.append({**json.loads(config_json), "seed": seed, **json.loads(row_json)})
        return out

    def studies(self) -> list[str]:
        """Names of the studies with stored runs."""
        return [s for (s,) in self.conn.execute("SELECT DISTINCT study FROM runs ORDER BY study")]
