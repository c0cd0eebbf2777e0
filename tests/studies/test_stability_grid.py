import dataclasses
import json
import math
import sqlite3

import pytest
from click.testing import CliRunner

from distillplan.commands.study import study
from distillplan.errors import DistillPlanError
from distillplan.studies import get_study
from distillplan.studies.stability_grid import (
    QUICK_SETTINGS,
    STUDY,
    StabilityGridConfig,
    reduction_table,
    run,
    save_figures,
)

TINY = dict(dim=6, components=4, box=2.0, width=12, depth=2, total_train_steps=24, batch=16, eval_samples=300,
            local_samples=64, teacher_total_steps=20, reference_steps=20, threads=1)


def test_registered_with_paper_settings():
    assert get_study("stability-grid") is STUDY
    sweep = STUDY.sweep("paper")
    assert sweep.seeds == tuple(range(10)) and len(sweep) == 60
    cells = {(c.segments, c.grid) for c in sweep.configs}
    assert cells == {(n, g) for n in (4, 8, 16) for g in ("uniform", "stability")}
    c = sweep.configs[0]
    assert (c.dim, c.components, c.means_seed, c.box, c.beta, c.horizon, c.sigma0) == (64, 20, 0, 5.0, 5.0, 1.0, 1.0)
    assert (c.width, c.depth, c.activation, c.total_train_steps, c.batch, c.lr, c.eval_samples) == (
        512, 4, "relu", 100_000, 1024, 2e-4, 50_000)
    assert (c.teacher_total_steps, c.teacher_min_steps, c.reference_steps, c.grad_clip, c.weight_decay) == (
        100, 5, 100, 1.0, 0.0)
    quick = STUDY.sweep("quick")
    assert len(quick.seeds) >= 3 and {c.segments for c in quick.configs} >= {8}
    assert all(getattr(c, k) == v for c in quick.configs for k, v in QUICK_SETTINGS.items())
    assert all((c.dim, c.components, c.beta, c.sigma0) == (64, 20, 5.0, 1.0) for c in quick.configs)


@pytest.mark.parametrize("field, value", [("grid", "cosine"), ("segments", 0), ("lr", -1.0), ("activation", "tanh"),
                                          ("mode", "gpu"), ("device", "tpu"), ("total_train_steps", 3), ("threads", -1)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(DistillPlanError) as info:
        StabilityGridConfig(**{**TINY, field: value})
    assert info.value.argument == field


def test_run_tiny_is_finite_and_deterministic():
    config = StabilityGridConfig(segments=3, grid="stability", **TINY)
    first, again = run(config, 5), run(config, 5)
    assert len(first) == 1
    row = first[0]
    for key in ("relmse", "nll0", "worst_seg_relmse", "teacher_relmse", "train_s", "eval_s"):
        assert math.isfinite(row[key]), key
    assert row["segments"] == 3 and row["grid"] == "stability" and row["seed"] == 5
    assert len(row["local_relmse"]) == 3 and row["worst_seg_relmse"] == max(row["local_relmse"])
    assert len(row["times"]) == 4 and row["times"][0] == 1.0 and row["times"][-1] == 0.0
    json.dumps(row)
    for key in ("relmse", "nll0", "worst_seg_relmse", "local_relmse", "final_loss"):
        assert again[0][key] == row[key], key
    other = run(config, 6)[0]
    assert other["relmse"] != row["relmse"]


def test_study_through_the_cli(tmp_path):
    result = CliRunner().invoke(study, [
        "stability-grid", "--preset", "quick", "--seeds", "0,1", "--workers", "1", "--no-progress",
        "--out", str(tmp_path), *[a for k, v in {**TINY, "segments": 2}.items() for a in ("--set", f"{k}={v}")],
    ])
    assert result.exit_code == 0, result.output
    # --set segments=2 collapses the quick preset's n values to one cell per grid
    lines = (tmp_path / "table.csv").read_text().splitlines()
    assert lines[0].startswith("segments,grid,n,relmse_mean,relmse_std,nll0_mean")
    assert len(lines) == 3
    reduction = (tmp_path / "reduction.csv").read_text().splitlines()
    assert reduction[0].startswith("segments,grid,relmse_mean,uniform_relmse_mean,reduction_pct")
    assert (tmp_path / "relmse_vs_segments.png").stat().st_size > 1000
    with sqlite3.connect(tmp_path / "results.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 4


def test_reduction_table_and_figure(tmp_path):
    rows = [
        {"segments": n, "grid": g, "seed": s, "relmse": base * (0.5 if g == "stability" else 1.0) * (1 + 0.1 * s),
         "nll0": 100.0}
        for n, base in ((4, 0.04), (8, 0.09)) for g in ("uniform", "stability") for s in range(3)
    ]
    table = reduction_table(rows)["reduction"]
    assert [(r["segments"], r["grid"]) for r in table] == [(4, "stability"), (8, "stability")]
    assert all(r["reduction_pct"] == pytest.approx(50.0) and r["wins"] == 3 == r["paired_seeds"] for r in table)
    paths = save_figures(rows, tmp_path)
    assert paths == [tmp_path / "relmse_vs_segments.png"] and paths[0].stat().st_size > 1000


def test_overrides_go_through_config_checks():
    with pytest.raises(DistillPlanError):
        STUDY.sweep("quick").with_overrides({"grid": "nope"})
    config = dataclasses.replace(StabilityGridConfig(), segments=4)
    assert config.segments == 4
