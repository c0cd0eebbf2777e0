"""Study ``trained-linear``: trained students match the analytic merge model (issue 4, item 1)."""

import pytest
import torch
from click.testing import CliRunner

from distillplan.commands.study import study
from distillplan.errors import DistillPlanError
from distillplan.studies import get_study
from distillplan.studies.trained_linear import (
    PLANS, TOLERANCE, TrainedLinearConfig, deviation_table, run,
)

torch.set_num_threads(1)

COLUMNS = {"lam", "strategy", "analytic_root", "trained_root", "rel_dev", "analytic_w2", "trained_w2"}


@pytest.fixture(scope="module")
def fast_rows():
    """T = 16, cosine, s = 6.4, λ ∈ {0.2, 1.0, 5.0}: a fast (few steps, few samples) version."""
    return run(TrainedLinearConfig(teacher_steps=16, train_steps=20, samples=256), seed=0)


def test_trained_root_within_one_percent_at_T16(fast_rows):
    assert len(fast_rows) == 3 * len(PLANS)
    assert {(r["lam"], r["strategy"]) for r in fast_rows} == {(lam, s) for lam in (0.2, 1.0, 5.0) for s in PLANS}
    assert all(COLUMNS <= set(r) for r in fast_rows)
    worst = max(r["rel_dev"] for r in fast_rows)
    assert worst <= TOLERANCE, worst
    opt = {r["lam"]: r for r in fast_rows if r["strategy"] == "optimal"}
    assert opt[0.2]["plan"] == next(r["plan"] for r in fast_rows if r["strategy"] == "boot")
    assert opt[5.0]["stages"] == 1
    table = deviation_table(fast_rows)
    assert len(table) == 1 and table[0]["within_1pct"] and table[0]["max_rel_dev"] == worst


def test_w2_is_reported_for_both(fast_rows):
    for r in fast_rows:
        assert r["analytic_w2"] > 0 and r["trained_w2"] > 0
        assert r["trained_w2"] == pytest.approx(r["analytic_w2"], rel=0.5, abs=1e-5)


def test_exact_loss_float64_matches_to_rounding():
    rows = run(TrainedLinearConfig(teacher_steps=8, lams=(0.5, 1.3), train_steps=10, samples=None, dtype="float64"), seed=0)
    assert max(r["rel_dev"] for r in rows) < 1e-10


def test_seeded_runs_repeat():
    cfg = TrainedLinearConfig(teacher_steps=6, strategies=("boot", "optimal"), train_steps=5, samples=32)
    a, b, c = run(cfg, 1), run(cfg, 1), run(cfg, 2)
    assert [r["trained_root"] for r in a] == [r["trained_root"] for r in b]
    assert [r["trained_root"] for r in a] != [r["trained_root"] for r in c]


@pytest.mark.parametrize("field, value", [
    ("strategies", ("boot", "nope")), ("lams", ()), ("lams", (-1.0,)), ("schedule", "sqrt"),
    ("train_steps", 0), ("samples", 0), ("dtype", "half"), ("init", "random"), ("teacher_steps", 1),
])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(DistillPlanError) as exc:
        TrainedLinearConfig(**{field: value})
    assert exc.value.argument == field


def test_presets():
    spec = get_study("trained-linear")
    quick = spec.sweep("quick")
    assert [c.teacher_steps for c in quick.configs] == [16] and set(quick.configs[0].lams) == {0.2, 1.0, 5.0}
    assert set(quick.configs[0].strategies) == set(PLANS)
    assert max(c.teacher_steps for c in spec.sweep("paper").configs) > 16


def test_study_runs_through_the_runner(tmp_path):
    result = CliRunner().invoke(study, [
        "trained-linear", "--out", str(tmp_path), "--seeds", "0", "--workers", "1", "--no-progress",
        "--set", "teacher_steps=4", "--set", "train_steps=5", "--set", "samples=64", "--set", "lams=0.5,2",
    ])
    assert result.exit_code == 0, result.output
    header = (tmp_path / "table.csv").read_text().splitlines()[0].split(",")
    assert {"lam", "strategy", "rel_dev_mean", "trained_root_mean", "analytic_root_mean"} <= set(header)
    dev = (tmp_path / "deviation.csv").read_text().splitlines()
    assert len(dev) == 2 and dev[1].split(",")[dev[0].split(",").index("within_1pct")] == "True"
    pngs = list(tmp_path.glob("trained_vs_analytic_T4_cosine_s6.4_*.png"))
    assert len(pngs) == 1 and pngs[0].stat().st_size > 1000
    assert len((tmp_path / "table.csv").read_text().splitlines()) == 1 + 2 * len(PLANS)
