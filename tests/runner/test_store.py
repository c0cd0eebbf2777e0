import sqlite3

import numpy as np
import pytest

from distillplan.runner import ResultStore, Sweep, grid
from tests.runner.toy_study import ToyConfig


def _tasks(n_seeds=2):
    return list(Sweep("toy", grid(ToyConfig, scale=[1.0, 2.0]), seeds=range(n_seeds)).tasks())


def test_round_trip_gives_flat_rows(tmp_path):
    task = _tasks()[0]
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert store.record(task, [{"step": 0, "value": np.float64(0.5)}, {"step": 1, "value": np.int64(3)}], 0.1)
    with ResultStore(tmp_path / "r.sqlite") as store:  # persists across connections
        assert store.done_keys("toy") == {task.key}
        assert store.rows("toy") == [
            {"scale": 1.0, "size": 3, "label": "a", "sleep_s": 0.0, "fail": False, "seed": 0, "step": 0, "value": 0.5},
            {"scale": 1.0, "size": 3, "label": "a", "sleep_s": 0.0, "fail": False, "seed": 0, "step": 1, "value": 3},
        ]
        assert store.studies() == ["toy"]
        assert store.done_keys("other") == set()


def test_record_is_idempotent(tmp_path):
    task = _tasks()[0]
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert store.record(task, [{"v": 1.0}], 0.1)
        assert not store.record(task, [{"v": 2.0}, {"v": 3.0}], 0.1)
        assert store.count_runs("toy") == 1
        assert store.rows("toy")[0]["v"] == 1.0 and len(store.rows("toy")) == 1


def test_rows_do_not_depend_on_finishing_order_and_filter_by_keys(tmp_path):
    tasks = _tasks(3)
    with ResultStore(tmp_path / "a.sqlite") as a, ResultStore(tmp_path / "b.sqlite") as b:
        for t in tasks:
            a.record(t, [{"v": t.seed}], 0.0)
        for t in reversed(tasks):
            b.record(t, [{"v": t.seed}], 0.0)
        assert a.rows("toy") == b.rows("toy")
        assert len(a.rows("toy", keys=[tasks[0].key, tasks[4].key])) == 2


def test_a_run_and_its_rows_are_one_transaction(tmp_path):
    task = _tasks()[0]
    store = ResultStore(tmp_path / "r.sqlite")
    store.conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON rows WHEN NEW.idx = 2 BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        store.record(task, [{"v": 0}, {"v": 1}, {"v": 2}], 0.1)
    assert store.count_runs() == 0
    assert store.conn.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 0
    store.conn.execute("DROP TRIGGER boom")
    assert store.record(task, [{"v": 0}, {"v": 1}, {"v": 2}], 0.1)
    assert len(store.rows("toy")) == 3
    store.close()


def test_file_is_created_lazily_in_wal_mode(tmp_path):
    path = tmp_path / "sub" / "r.sqlite"
    store = ResultStore(path)
    assert not path.exists()
    assert store.done_keys("toy") == set()
    assert path.exists()
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_a_foreign_file_is_rejected(tmp_path):
    from distillplan.errors import DistillPlanError

    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(DistillPlanError) as info:
        ResultStore(path).done_keys("toy")
    assert info.value.argument == "out"
