"""Smoke tests for `distillplan plan` and `distillplan phase` through the real entry point."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from distillplan.linear import Plan

from distillplan.cli import main


def run(args, capsys):
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plan_human(capsys):
    code, out, _ = run(["plan", "--lam", "0.5", "--steps", "8"], capsys)
    assert code == 0
    for word in ("vanilla", "progressive", "boot", "consistency", "optimal", "equals boot", "[[[[[[[8,7],6],5],4],3],2],1]"):
        assert word in out


def test_plan_json_keys(capsys):
    code, out, _ = run(["plan", "--lam", "1.08", "--steps", "32", "--budget", "6.4", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["steps"] == 32 and doc["budget"] == 6.4 and doc["schedule"] == "cosine"
    strategies = doc["strategies"]
    for name in ("vanilla", "progressive", "boot", "consistency", "optimal"):
        assert {"w2", "w2_data", "stages"} <= set(strategies[name])
    opt = strategies["optimal"]
    assert {"plan", "merges", "solver", "certified", "equals", "lower_bound", "note"} <= set(opt)
    assert opt["equals"] is None and opt["solver"] == "pareto"
    assert opt["w2"] * 3 <= min(strategies[n]["w2"] for n in ("vanilla", "progressive", "boot", "consistency"))
    assert sorted(Plan.from_merges(opt["merges"]).leaves(), reverse=True) == list(range(32, 0, -1))
    assert Plan.parse(opt["plan"]) == Plan.from_merges(opt["merges"])


@pytest.mark.parametrize("suffix", [".npy", ".txt", ".csv"])
def test_plan_variances_file(tmp_path, capsys, suffix):
    lam = np.array([0.2, 0.5, 0.5, 0.9, 1.5])
    path = tmp_path / f"lam{suffix}"
    if suffix == ".npy":
        np.save(path, lam)
    elif suffix == ".txt":
        np.savetxt(path, lam)
    else:
        path.write_text(",".join(map(str, lam)) + "\n")
    code, out, _ = run(["plan", "--variances", str(path), "--steps", "6", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["dimension"] == 5 and doc["strategies"]["optimal"]["certified"]


def test_plan_front_max_stages_draw(tmp_path, capsys):
    png = tmp_path / "plan.png"
    code, out, _ = run(["plan", "--lam", "1.0", "--steps", "8", "--front", "--max-stages", "3", "--draw", str(png),
                        "--json"], capsys)
    assert code == 0 and png.stat().st_size > 1000
    doc = json.loads(out)
    assert [p["stages"] for p in doc["front"]] == [1, 2, 3]
    ws = [p["w2"] for p in doc["front"]]
    assert ws == sorted(ws, reverse=True)
    assert doc["strategies"]["optimal"]["stages"] <= 3


def test_plan_custom(capsys):
    code, out, _ = run(["plan", "--steps", "4", "--plan", "[[4,3],[2,1]]", "--json"], capsys)
    assert code == 0 and json.loads(out)["strategies"]["custom"]["stages"] == 3


@pytest.mark.parametrize("args, name", [
    (["--lam", "0"], "lam"),
    (["--lam", "-2"], "lam"),
    (["--lam", "nan"], "lam"),
    (["--steps", "1"], "steps"),
    (["--budget", "-1"], "budget"),
    (["--schedule", "sigmoid"], "schedule"),
    (["--strategy", "reflow", "--draw", "x.png"], "strategy"),
    (["--steps", "4", "--plan", "[[4,3],[1]]"], "plan"),
    (["--steps", "4", "--plan", "[[4,3],1]"], "plan"),
    (["--variances", "missing.npy"], "variances"),
    (["--solver", "magic"], "--solver"),
])
def test_plan_errors_are_one_line(args, name, capsys):
    code, out, err = run(["plan", *args], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and name in lines[0], err


def test_variances_file_errors(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([0.5, np.nan]))
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("0.5, hello\n")
    neg = tmp_path / "neg.csv"
    neg.write_text("0.5,-1\n")
    for path in (bad, garbage, neg, tmp_path / "x.bin"):
        if path.suffix == ".bin":
            path.write_bytes(b"\x00\x01")
        code, _, err = run(["plan", "--variances", str(path)], capsys)
        assert code == 2 and err.startswith("error: variances:") and len(err.strip().splitlines()) == 1


def test_phase_small(tmp_path, capsys):
    out_dir = tmp_path / "phase"
    args = ["phase", "--steps", "12", "--points", "6", "--lam-min", "0.2", "--lam-max", "5", "--draw-at", "0.5,2",
            "--out", str(out_dir)]
    code, out, _ = run(args, capsys)
    assert code == 0
    rows = list(csv.DictReader((out_dir / "phase.csv").open()))
    assert len(rows) == 6 and rows[0]["equals"] == "boot" and rows[-1]["equals"] == "vanilla"
    assert (out_dir / "phase_gap.png").stat().st_size > 5000
    assert (out_dir / "phase_plans.png").stat().st_size > 5000
    # resume: a second run recomputes nothing and gives the same file
    before = (out_dir / "phase.csv").read_text()
    assert run(args, capsys)[0] == 0
    assert (out_dir / "phase.csv").read_text() == before
    code, _, err = run(["phase", "--steps", "16", "--points", "6", "--out", str(out_dir)], capsys)
    assert code == 2 and "out" in err


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "distillplan.cli", "plan", "--lam", "0.2", "--steps", "6", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["strategies"]["optimal"]["equals"] == "boot"


def test_alpha_file_schedule(tmp_path, capsys):
    good, bad = tmp_path / "alphas.npy", tmp_path / "bad.csv"
    np.save(good, np.cos(np.linspace(0, np.pi / 2, 9)))
    bad.write_text("1,0.5,0.7,0\n")
    code, out, _ = run(["plan", "--schedule", str(good), "--lam", "0.5", "--json"], capsys)
    assert code == 0 and json.loads(out)["steps"] == 8
    code, _, err = run(["plan", "--schedule", str(bad)], capsys)
    assert code == 2 and err.startswith("error: alphas:") and "non-increasing" in err
    code, _, err = run(["plan", "--schedule", str(good), "--steps", "5"], capsys)
    assert code == 2 and err.startswith("error: steps:")


def test_a_T_1024_json_report_reads_back_and_re_evaluates_to_the_same_w2(tmp_path, capsys):
    code, out, _ = run(["plan", "--lam", "0.5", "--steps", "1024", "--json"], capsys)
    assert code == 0 and sys.getrecursionlimit() <= 1000
    report = tmp_path / "report.json"
    report.write_text(out)
    with report.open() as fh:
        doc = json.load(fh)
    optimal = doc["strategies"]["optimal"]
    assert optimal["stages"] == 1023  # the boot chain: 1023 merges deep in the bracket form
    alone = tmp_path / "optimal.json"
    alone.write_text(json.dumps({"steps": 1024, "merges": optimal["merges"]}))
    for source in (report, alone):
        code, out, _ = run(["plan", "--lam", "0.5", "--steps", "1024", "--plan", str(source), "--json"], capsys)
        assert code == 0
        custom = json.loads(out)["strategies"]["custom"]
        assert custom["w2"] == optimal["w2"] and custom["merges"] == optimal["merges"]
