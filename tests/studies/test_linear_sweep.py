"""Study ``linear-sweep``: the analytic phase transition on the runner (issue 4, item 3)."""

import csv

import pytest
from click.testing import CliRunner

from distillplan.commands.study import study
from distillplan.errors import DistillPlanError
from distillplan.studies import get_study
from distillplan.studies.linear_sweep import (
    BUDGETS, NON_CANONICAL, PAPER_LAMS, PAPER_STEPS, QUICK_LAMS, LinearSweepConfig, figures, run, tables,
)
from distillplan.linear.strategies import STRATEGIES


def rows_for(steps=8, lams=(0.2, 1.5, 5.0), budgets=(1.0, 6.4), schedules=("cosine", "linear")):
    out = []
    for schedule in schedules:
        for budget in budgets:
            for lam in lams:
                cfg = LinearSweepConfig(teacher_steps=steps, schedule=schedule, budget=budget, lam=lam)
                out += [{"teacher_steps": steps, "schedule": schedule, "budget": budget, "lam": lam, "init": "warm",
                         "rate": "normalized", "cap": None, "seed": 0, **r} for r in run(cfg, 0)]
    return out


@pytest.fixture(scope="module")
def tiny_rows():
    return rows_for()


def test_tiny_config_gives_the_expected_winners(tiny_rows):
    for r in tiny_rows:
        expected = {0.2: "boot", 1.5: NON_CANONICAL, 5.0: "vanilla"}[r["lam"]]
        assert r["winner"] == expected, r
        assert r["canonical_optimal"] == (expected != NON_CANONICAL)
        if r["solver"] == "dp":
            assert r["certified"] and r["gap_bound"] == 0.0
        assert r["gap_bound"] >= 0.0
        for name in STRATEGIES:
            assert r[f"{name}_gap"] >= -1e-15 and r[f"{name}_w2"] == pytest.approx(r["opt_w2"] + r[f"{name}_gap"])
        assert r["best_canonical"] == min(STRATEGIES, key=lambda n: r[f"{n}_w2"])
        if r["winner"] == NON_CANONICAL:
            assert r["advantage"] > 1 and 1 < r["opt_stages"] <= 7


def test_tables(tiny_rows):
    out = tables(tiny_rows)
    assert set(out) == {"winners", "winner_grid", "timing"}
    assert len(out["winners"]) == len(tiny_rows)
    grid = out["winner_grid"]
    assert len(grid) == 4
    for line in grid:
        assert line["lam=0.2"] == "boot" and line["lam=5"] == "vanilla" and line["lam=1.5"].startswith("nc:")
    assert all(t["runs"] == 3 for t in out["timing"])


def test_figures_write_pngs(tiny_rows, tmp_path):
    paths = figures([r for r in tiny_rows if r["schedule"] == "cosine"], tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["gaps_T8.png", "optima_T8.png", "winner_map_T8.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize("field, value", [
    ("teacher_steps", 1), ("schedule", "sqrt"), ("budget", -1.0), ("lam", 0.0), ("cap", 0), ("init", "random"),
    ("rate", "fast"), ("tie_rtol", -1.0),
])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(DistillPlanError) as exc:
        LinearSweepConfig(**{field: value})
    assert exc.value.argument == field


def test_presets():
    spec = get_study("linear-sweep")
    quick, paper = spec.sweep("quick"), spec.sweep("paper")
    assert {c.teacher_steps for c in quick.configs} == set(PAPER_STEPS) == {32, 64, 128, 256, 512}
    assert {c.budget for c in paper.configs} == set(BUDGETS) == {1.0, 3.0, 6.4, 10.0}
    assert {c.schedule for c in quick.configs} == {"cosine", "linear"}
    assert {c.lam for c in quick.configs} == set(QUICK_LAMS)
    assert {0.2, 0.5, 1.0, 1.02, 1.08, 2.0, 5.0} <= set(PAPER_LAMS) and len(PAPER_LAMS) > 15
    assert len(paper) == 5 * 4 * 2 * len(PAPER_LAMS)
    # quick avoids the Pareto window just above λ = 1 (it is slow at large T)
    assert not any(1.0 < lam < 1.2 for lam in QUICK_LAMS)


def test_study_runs_through_the_runner(tmp_path):
    args = ["linear-sweep", "--out", str(tmp_path), "--workers", "1", "--no-progress",
            "--set", "teacher_steps=8", "--set", "budget=6.4", "--set", "schedule=cosine"]
    result = CliRunner().invoke(study, args)
    assert result.exit_code == 0, result.output
    assert "10 runs: 10 run now" in result.output
    with (tmp_path / "winners.csv").open() as f:
        winners = {(r["schedule"], float(r["lam"])): r["winner"] for r in csv.DictReader(f)}
    assert len(winners) == len(QUICK_LAMS)
    assert winners[("cosine", 0.2)] == "boot" and winners[("cosine", 5.0)] == "vanilla"
    assert (tmp_path / "winner_grid.csv").exists() and (tmp_path / "timing.csv").exists()
    assert (tmp_path / "winner_map_T8.png").exists() and (tmp_path / "gaps_T8.png").exists()


def test_tolerance_turns_a_near_tie_into_a_canonical_winner():
    cfg = LinearSweepConfig(teacher_steps=8, lam=1.5, tie_rtol=10.0)
    (row,) = run(cfg, 0)
    assert row["equals"] == "" and row["winner"] == row["best_canonical"] and row["canonical_optimal"]
    grid = tables([{**row, "teacher_steps": 8, "schedule": "cosine", "budget": 6.4, "lam": 1.5}])["winner_grid"]
    assert grid[0]["lam=1.5"] == row["best_canonical"] + "~"
