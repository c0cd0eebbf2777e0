"""Claims in the results store: exclusive between live processes, taken over when stale."""

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from distillplan.runner import ResultStore, Study, Sweep, run_sweep
from distillplan.runner.claims import Heartbeat, Owner, process_alive
from tests.runner import toy_study
from tests.runner.toy_study import TOY, ToyConfig

ELSEWHERE = Owner("another-host", 4242, "t0")
"""An owner on another host: alive as long as its heartbeat is fresh."""


@pytest.fixture
def calls():
    toy_study.CALLS.clear()
    yield toy_study.CALLS
    toy_study.CALLS.clear()


def dead_owner() -> Owner:
    """An owner on this host whose process has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return Owner(socket.gethostname(), proc.pid, "0")


def claims_table(path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT key, host, pid FROM claims").fetchall()


def test_a_claim_is_exclusive_until_stored_or_released(tmp_path):
    task = next(TOY.sweep("quick").tasks())
    me = Owner.current()
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert store.claim(task.key, ELSEWHERE) == "claimed"
        assert store.claim(task.key, me) == "held"
        assert store.claims()[task.key].owner == ELSEWHERE
        store.release([task.key], me)  # not mine: nothing happens
        assert store.claim(task.key, me) == "held"
        store.release([task.key], ELSEWHERE)
        assert store.claim(task.key, me) == "claimed"
        assert store.claim(task.key, me) == "claimed"  # a process never waits for itself
        assert store.record(task, [{"v": 1}], 0.1)
        assert store.claims() == {}
        assert store.claim(task.key, ELSEWHERE) == "stored"


def test_an_old_heartbeat_makes_a_claim_stale_on_any_host(tmp_path):
    task = next(TOY.sweep("quick").tasks())
    with ResultStore(tmp_path / "r.sqlite", stale_after_s=60) as store:
        store.claim(task.key, ELSEWHERE)
        assert store.claim(task.key, Owner.current()) == "held"
        store.conn.execute("UPDATE claims SET heartbeat = heartbeat - 3600")
        assert store.claim(task.key, Owner.current()) == "claimed"
        assert store.claims()[task.key].owner == Owner.current()


def test_a_dead_or_reused_pid_on_this_host_is_stale(tmp_path):
    me = Owner.current()
    assert process_alive(me.pid, me.token)
    dead = dead_owner()
    assert not process_alive(dead.pid, dead.token)
    reused = replace(me, token="not-my-start-time")  # same pid, another process start
    task = next(TOY.sweep("quick").tasks())
    with ResultStore(tmp_path / "r.sqlite") as store:
        for owner in (dead, reused):
            store.conn.execute("DELETE FROM claims")
            assert store.claim(task.key, owner) == "claimed"
            assert store.claim(task.key, me) == "claimed"


def test_a_sweep_takes_over_claims_of_a_dead_process(tmp_path, calls):
    sweep = TOY.sweep("quick")
    dead = dead_owner()
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        for task in list(sweep.tasks())[:3]:
            assert store.claim(task.key, dead) == "claimed"
        report = run_sweep(TOY, sweep, store, workers=1, progress=False)
    assert (report.completed, report.elsewhere, len(calls)) == (6, 0, 6)
    assert claims_table(path) == []


def test_a_store_without_a_claims_table_is_read_and_resumed(tmp_path, calls):
    path = tmp_path / "r.sqlite"
    sweep = TOY.sweep("quick")
    with ResultStore(path) as store:
        run_sweep(TOY, sweep.with_seeds([0]), store, workers=1, progress=False)
        store.conn.execute("DROP TABLE claims")  # the format before claims existed
    calls.clear()
    with ResultStore(path) as store:
        assert store.count_runs("toy") == 2
        report = run_sweep(TOY, sweep, store, workers=1, progress=False)
        assert (report.completed, report.skipped, len(calls)) == (4, 2, 4)
        assert store.count_runs("toy") == 6
    assert claims_table(path) == []


def test_the_heartbeat_refreshes_this_process_claims(tmp_path):
    path = tmp_path / "r.sqlite"
    me = Owner.current()
    with ResultStore(path) as store:
        store.claim("a", me)
        store.claim("b", ELSEWHERE)
        store.conn.execute("UPDATE claims SET heartbeat = 0")
        with Heartbeat(path, me, interval_s=0.01):
            deadline = time.monotonic() + 10
            while store.claims()["a"].heartbeat == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
        assert store.claims()["a"].heartbeat > 0
        assert store.claims()["b"].heartbeat == 0


def _other_process(path, task, finish, stop):
    """Plays a process holding ``task``: once the rest of the sweep is stored, ``finish`` it."""
    with ResultStore(path) as store:
        while store.count_runs("toy") < 5 and not stop.is_set():
            time.sleep(0.01)
        finish(store, task)


def _sweep_while_another_process_holds_one_run(tmp_path, finish, capsys):
    path = tmp_path / "r.sqlite"
    sweep = TOY.sweep("quick")
    held = list(sweep.tasks())[2]
    stop = threading.Event()
    with ResultStore(path) as store:
        store.claim(held.key, ELSEWHERE)
        other = threading.Thread(target=_other_process, args=(path, held, finish, stop))
        other.start()
        try:
            report = run_sweep(TOY, sweep, store, workers=1, progress=True)
        finally:
            stop.set()
            other.join()
        assert store.count_runs("toy") == 6 and store.claims() == {}
    return report, held, capsys.readouterr().err


def test_a_sweep_waits_for_a_run_another_process_computes(tmp_path, calls, capsys):
    def store_it(store, task):
        store.record(task, [{"step": 0, "value": 1.0}], 0.1, host="another-host")

    report, held, err = _sweep_while_another_process_holds_one_run(tmp_path, store_it, capsys)
    assert (report.completed, report.elsewhere, report.skipped) == (5, 1, 0)
    assert (held.config.scale, held.seed) not in calls and len(calls) == 5
    assert "waiting for 1 run being computed by another-host:4242" in err
    assert "stored by another process" in err
    assert "1 run by another process" in report.summary()


def test_a_run_released_unstored_by_another_process_is_run_here(tmp_path, calls, capsys):
    def give_up(store, task):
        store.release([task.key], ELSEWHERE)

    report, held, _ = _sweep_while_another_process_holds_one_run(tmp_path, give_up, capsys)
    assert (report.completed, report.elsewhere) == (6, 0)
    assert (held.config.scale, held.seed) in calls


def _interrupting_run(config: ToyConfig, seed: int) -> list[dict]:
    if seed == 1:
        raise KeyboardInterrupt
    return toy_study.run_toy(config, seed)


def test_an_interrupted_sweep_releases_its_claims(tmp_path):
    study = Study("toy", ToyConfig, _interrupting_run)
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(study, Sweep("toy", [ToyConfig()], seeds=[0, 1, 2]), store, workers=1, progress=False)
        assert store.count_runs("toy") == 1
    assert claims_table(path) == []
