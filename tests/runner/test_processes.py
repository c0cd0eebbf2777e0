"""Real ``distillplan study`` processes: two sharing one folder, and one killed with SIGKILL."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillplan import studies
from distillplan.commands.study import study
from tests.runner.toy_study import CALLS_LOG

ROOT = Path(__file__).resolve().parents[2]
TOY = "tests.runner.toy_study:TOY"
SCRIPT = (
    "import sys; from distillplan.studies import register; "
    f"register('toy', {TOY!r}); "
    "from distillplan.commands.study import study; study.main(sys.argv[1:])"
)

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")


@pytest.fixture(autouse=True)
def toy_registered():
    studies.register("toy", TOY)
    yield
    studies.STUDIES.pop("toy", None)


def start_study(out: Path, *args, calls_log: Path | None = None) -> subprocess.Popen:
    """``distillplan study toy --out OUT ARGS`` in a new process, with this checkout importable."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if calls_log is not None:
        env[CALLS_LOG] = str(calls_log)
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "toy", "--out", str(out), "--no-progress", *map(str, args)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def reference_table(tmp_path: Path) -> str:
    """table.csv of an uninterrupted in-process run of the slow preset (without its sleeps, which
    are not in the table)."""
    out = tmp_path / "reference"
    args = ["toy", "--preset", "slow", "--set", "sleep_s=0", "--out", str(out), "--workers", "1", "--no-progress"]
    result = CliRunner().invoke(study, args)
    assert result.exit_code == 0, result.output
    return (out / "table.csv").read_text()


def summary_counts(stdout: str) -> tuple[int, int, int]:
    """(run now, already stored, run by another process) from the command's summary line."""
    found = re.search(r"(\d+) run now, (\d+) already stored, (?:(\d+) run by another process, )?0 failed", stdout)
    assert found, stdout
    return int(found[1]), int(found[2]), int(found[3] or 0)


def stored_runs(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_two_processes_into_one_folder_compute_each_run_once(tmp_path):
    out, log = tmp_path / "shared", tmp_path / "calls.log"
    procs = [start_study(out, "--preset", "slow", "--workers", workers, calls_log=log) for workers in (1, 2)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (stdout, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stderr
    calls = Counter(tuple(line.split()[:2]) for line in log.read_text().splitlines())
    assert len(calls) == 12 and set(calls.values()) == {1}
    assert stored_runs(out / "results.sqlite") == 12
    counts = [summary_counts(stdout) for stdout, _ in outputs]
    assert sum(now for now, _, _ in counts) == 12
    assert all(sum(each) == 12 for each in counts)  # each ended with every run stored
    with sqlite3.connect(out / "results.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
    assert (out / "table.csv").read_text() == reference_table(tmp_path)


# -- SIGKILL: no process of the run may outlive it -----------------------------------------------


def proc_stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of ``pid``, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], fields[19]


def descendants(root: int) -> dict[int, str]:
    """pid -> start time of every process below ``root``."""
    parents = {}
    for entry in os.listdir("/proc"):
        stat = proc_stat(int(entry)) if entry.isdigit() else None
        if stat is not None:
            parents[int(entry)] = stat
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, start) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def alive(pid: int, start: str) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat[2] == start and stat[1] not in "ZX"


def test_sigkill_leaves_no_process_of_the_run_alive_and_the_rerun_completes(tmp_path):
    out = tmp_path / "killed"
    proc = start_study(out, "--preset", "slow", "--workers", 2)
    try:
        deadline = time.monotonic() + 60
        while stored_runs(out / "results.sqlite") < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1]
        children = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert len(children) >= 2  # pool workers (and the resource tracker)
    deadline = time.monotonic() + 5
    while any(alive(pid, start) for pid, start in children.items()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid, start in children.items() if alive(pid, start)] == []

    partial = stored_runs(out / "results.sqlite")
    assert partial < 12
    args = ["toy", "--preset", "slow", "--out", str(out), "--workers", "1", "--no-progress"]
    resumed = CliRunner().invoke(study, args)
    assert resumed.exit_code == 0, resumed.output
    assert f"{12 - partial} run now, {partial} already stored" in resumed.output
    assert (out / "table.csv").read_text() == reference_table(tmp_path)
