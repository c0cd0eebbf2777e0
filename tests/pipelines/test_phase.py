"""run_phase on the results store: resumable from torn CSV-era folders, safe for two processes."""

import csv
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from distillplan.errors import DistillPlanError
from distillplan.linear import MergeModel
from distillplan.pipelines import phase
from distillplan.pipelines.phase import PHASE_COLUMNS, run_phase
from distillplan.schedules import make_schedule

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE, MODEL = make_schedule("cosine", 12), MergeModel(6.4, "warm", "normalized")
LAMS = np.geomspace(0.2, 5.0, 6)
SETTINGS = '{"steps": 12, "schedule": "cosine", "budget": 6.4, "init": "warm", "rate": "normalized"}'


@pytest.fixture
def calls(monkeypatch):
    """λ of every phase_row call."""
    seen = []
    real = phase.phase_row

    def counted(schedule, model, lam):
        seen.append(lam)
        return real(schedule, model, lam)

    monkeypatch.setattr(phase, "phase_row", counted)
    return seen


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(rows, phase.csv text) of an uninterrupted run."""
    out = tmp_path_factory.mktemp("reference")
    rows = run_phase(SCHEDULE, MODEL, LAMS, out)
    return rows, (out / "phase.csv").read_text()


def csv_era_folder(path: Path, lines: list[str]) -> Path:
    """A folder as the append-only CSV writer left it: phase.json and phase.csv, no store."""
    path.mkdir()
    (path / "phase.json").write_text(SETTINGS)
    (path / "phase.csv").write_text("".join(lines))
    return path


def csv_lines(reference) -> list[str]:
    return reference[1].splitlines(keepends=True)


def test_rows_are_typed_and_the_rerun_computes_nothing(tmp_path, reference, calls):
    rows, text = reference
    assert [r["lam"] for r in rows] == [float(x) for x in LAMS]
    assert all(list(r) == PHASE_COLUMNS for r in rows)
    assert isinstance(rows[0]["certified"], bool) and isinstance(rows[0]["opt_stages"], int)
    out = csv_era_folder(tmp_path / "done", csv_lines(reference))
    assert run_phase(SCHEDULE, MODEL, LAMS, out) == rows
    assert calls == []
    assert run_phase(SCHEDULE, MODEL, LAMS, out) == rows  # now from the store
    assert calls == [] and (out / "phase.csv").read_text() == text


def test_a_torn_last_line_is_dropped_and_recomputed(tmp_path, reference, calls):
    lines = csv_lines(reference)
    out = csv_era_folder(tmp_path / "torn", lines[:-1] + [lines[-1][:25]])
    assert run_phase(SCHEDULE, MODEL, LAMS, out) == reference[0]
    assert calls == [float(LAMS[-1])]
    assert (out / "phase.csv").read_text() == reference[1]


def test_a_row_glued_onto_a_torn_line_is_dropped_and_recomputed(tmp_path, reference, calls):
    lines = csv_lines(reference)  # header, then one line per λ
    glued = lines[2][:40] + lines[3]
    out = csv_era_folder(tmp_path / "glued", lines[:2] + [glued] + lines[4:])
    assert run_phase(SCHEDULE, MODEL, LAMS, out) == reference[0]
    assert calls == [float(LAMS[1]), float(LAMS[2])]
    rows = list(csv.DictReader((out / "phase.csv").open()))
    assert [float(r["lam"]) for r in rows] == [float(x) for x in LAMS]


def test_other_settings_in_a_csv_era_folder_are_refused(tmp_path, reference):
    out = csv_era_folder(tmp_path / "other", csv_lines(reference))
    with pytest.raises(DistillPlanError) as info:
        run_phase(make_schedule("cosine", 16), MODEL, LAMS, out)
    assert info.value.argument == "out"


def test_a_failing_lambda_raises_its_own_error_after_storing_the_others(tmp_path, monkeypatch, reference):
    real = phase.phase_row

    def fails_once(schedule, model, lam):
        if lam == float(LAMS[2]):
            raise DistillPlanError("lam", "boom")
        return real(schedule, model, lam)

    monkeypatch.setattr(phase, "phase_row", fails_once)
    with pytest.raises(DistillPlanError, match="boom"):
        run_phase(SCHEDULE, MODEL, LAMS, tmp_path)
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 5
    monkeypatch.setattr(phase, "phase_row", real)
    assert run_phase(SCHEDULE, MODEL, LAMS, tmp_path) == reference[0]


# Both processes wait at their first λ until the other has reached its own, so they overlap.
SCRIPT = """
import os, sys, time, pathlib
import distillplan.pipelines.phase as phase
log, barrier = sys.argv[1], pathlib.Path(sys.argv[2])
real = phase.phase_row

def logged(schedule, model, lam):
    mark = barrier / str(os.getpid())
    if not mark.exists():
        mark.touch()
        deadline = time.monotonic() + 60
        while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    with open(log, "a") as fh:
        fh.write(f"{lam!r} {os.getpid()}\\n")
    time.sleep(0.05)
    return real(schedule, model, lam)

phase.phase_row = logged
from distillplan.cli import main
main(sys.argv[3:])
"""


def test_two_processes_into_one_folder_compute_each_lambda_once(tmp_path):
    out, log, barrier = tmp_path / "shared", tmp_path / "calls.log", tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    args = ["phase", "--steps", "12", "--points", "12", "--lam-min", "0.2", "--lam-max", "5", "--draw-at", "",
            "--out", str(out)]
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(log), str(barrier), *args], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    calls = [line.split() for line in log.read_text().splitlines()]
    assert len({pid for _, pid in calls}) == 2
    assert len(calls) == 12 and set(Counter(lam for lam, _ in calls).values()) == {1}
    rows = list(csv.DictReader((out / "phase.csv").open()))
    assert sorted(float(r["lam"]) for r in rows) == [float(x) for x in np.geomspace(0.2, 5, 12)]
    alone = run_phase(SCHEDULE, MODEL, np.geomspace(0.2, 5, 12), tmp_path / "alone")
    assert (out / "phase.csv").read_text() == (tmp_path / "alone" / "phase.csv").read_text()
    assert len(alone) == 12
