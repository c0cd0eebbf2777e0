"""The results store: one SQLite file; a run and its rows are committed together or not at all."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from ..errors import DistillPlanError
from .study import Row
from .sweep import Task, canonical_json

__all__ = ["ResultStore", "to_json"]

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

    The file (and its folder) is created on first use, not on construction. Writes are
    idempotent: a run already stored is never written twice. Use as a context manager or
    call :meth:`close`.
    """

    def __init__(self, path: str | Path, *, timeout_s: float = 30.0):
        self.path = Path(path)
        self.timeout_s = float(timeout_s)
        self._conn: sqlite3.Connection | None = None

    # -- connection -----------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path.exists() and self.path.is_dir():
                raise DistillPlanError("out", f"{self.path} is a folder, expected a results file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.executescript(_SCHEMA)
            except sqlite3.DatabaseError as exc:
                raise DistillPlanError("out", f"{self.path} is not a distillplan results store ({exc})") from None
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------------------
    def record(self, task: Task, rows: Iterable[Row], wall_s: float, host: str | None = None) -> bool:
        """Store one finished run and its rows in a single transaction.

        Returns False (and writes nothing) when the run is already stored.
        """
        row_texts = [to_json(dict(row)) for row in rows]
        config_json = canonical_json(task.config)
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
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
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return inserted

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
