import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillplan import cli, studies
from distillplan.commands.study import study
from distillplan.errors import DistillPlanError

ROOT = Path(__file__).resolve().parents[1]
TOY = "tests.runner.toy_study:TOY"


@pytest.fixture(autouse=True)
def toy_registered():
    studies.register("toy", TOY)
    yield
    studies.unregister("toy")


def invoke(*args):
    return CliRunner().invoke(study, [str(a) for a in args])


def stored(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_run_then_rerun_skips_everything(tmp_path):
    first = invoke("toy", "--out", tmp_path, "--workers", 1, "--no-progress")
    assert first.exit_code == 0, first.output
    assert "6 run now, 0 already stored" in first.output
    lines = (tmp_path / "table.csv").read_text().splitlines()
    assert lines[0] == "scale,step,n,value_mean,value_std,global_draw_mean,global_draw_std"
    assert len(lines) == 5 and all(line.split(",")[2] == "3" for line in lines[1:])
    second = invoke("toy", "--out", tmp_path, "--workers", 1, "--no-progress")
    assert second.exit_code == 0 and "0 run now, 6 already stored" in second.output
    assert (tmp_path / "table.csv").read_text().splitlines() == lines
    assert stored(tmp_path / "results.sqlite", "runs") == 6


def test_seeds_and_set_options(tmp_path):
    result = invoke("toy", "--out", tmp_path, "--seeds", "0, 5", "--set", "label=b", "--set", "size=4", "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "4 runs: 4 run now" in result.output
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        configs = {row[0] for row in conn.execute("SELECT config_json FROM runs")}
        seeds = {row[0] for row in conn.execute("SELECT seed FROM runs")}
    assert seeds == {0, 5} and all('"label":"b"' in c and '"size":4' in c for c in configs)


@pytest.mark.parametrize(
    "args, argument",
    [
        (["nope"], "study"),
        (["toy", "--preset", "huge"], "preset"),
        (["toy", "--seeds", "a"], "--seeds"),
        (["toy", "--seeds", "1,,2"], "--seeds"),
        (["toy", "--seeds", "-1"], "--seeds"),
        (["toy", "--seeds", "1,1"], "--seeds"),
        (["toy", "--set", "nope=1"], "--set"),
        (["toy", "--set", "size=big"], "--set size"),
        (["toy", "--engine", "dask"], "scheduler"),
        (["toy", "--scheduler", "tcp://127.0.0.1:8786"], "scheduler"),
        (["toy", "--workers", "0"], "workers"),
    ],
)
def test_bad_input_raises_distillplan_error_without_creating_the_store(tmp_path, args, argument):
    result = invoke(*args, "--out", tmp_path / "out")
    assert isinstance(result.exception, DistillPlanError), result.output
    assert result.exception.argument == argument
    assert not (tmp_path / "out" / "results.sqlite").exists()


def test_unreachable_scheduler_keeps_what_is_stored(tmp_path):
    assert invoke("toy", "--out", tmp_path, "--workers", 1).exit_code == 0
    before = (tmp_path / "results.sqlite").read_bytes(), (tmp_path / "table.csv").read_text()
    result = invoke("toy", "--out", tmp_path, "--seeds", "9", "--engine", "dask",
                    "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "0.5")
    assert isinstance(result.exception, DistillPlanError) and result.exception.argument == "scheduler"
    assert ((tmp_path / "results.sqlite").read_bytes(), (tmp_path / "table.csv").read_text()) == before


def test_failed_runs_exit_1_after_writing_the_finished_ones(tmp_path):
    result = invoke("toy", "--preset", "broken", "--out", tmp_path, "--workers", 1)
    assert result.exit_code == 1
    assert "2 of 4 runs of study 'toy' failed" in result.output
    assert stored(tmp_path / "results.sqlite", "runs") == 2
    assert len((tmp_path / "table.csv").read_text().splitlines()) == 5  # header + 2 scales x 2 steps


def test_main_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "study", "distillplan.commands.study:study")
    with pytest.raises(SystemExit) as info:
        cli.main(["study", "toy", "--out", str(tmp_path), "--seeds", "x"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --seeds:") and err.count("\n") == 1


def test_sigkill_mid_sweep_then_resume_matches_an_uninterrupted_run(tmp_path):
    """kill -9 the CLI while it runs, re-run it: same table, no duplicate runs or rows."""
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    script = (
        "import sys; from distillplan.studies import register; "
        f"register('toy', {TOY!r}); "
        "from distillplan.commands.study import study; study.main(sys.argv[1:])"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-c", script,
         "toy", "--preset", "slow", "--out", str(killed), "--workers", "1", "--no-progress"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    db, total, done = killed / "results.sqlite", 12, 0
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    done = stored(db, "runs")
                except sqlite3.OperationalError:  # schema not created yet
                    done = 0
                if done >= 2:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    partial = stored(db, "runs")
    assert 2 <= partial < total and not (killed / "table.csv").exists()

    resumed = invoke("toy", "--preset", "slow", "--out", killed, "--workers", 1, "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    assert f"{total - partial} run now, {partial} already stored" in resumed.output
    uninterrupted = invoke("toy", "--preset", "slow", "--out", reference, "--workers", 2, "--no-progress")
    assert uninterrupted.exit_code == 0, uninterrupted.output

    assert (killed / "table.csv").read_text() == (reference / "table.csv").read_text()
    assert stored(db, "runs") == total and stored(db, "rows") == 2 * total
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(DISTINCT key) FROM runs").fetchone()[0] == total
