"""Study ``mixture-merging`` (issue 5, item 4): a tiny config runs, is finite and deterministic."""

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from distillplan.commands.study import study
from distillplan.errors import DistillPlanError
from distillplan.studies import get_study
from distillplan.studies.mixture_merging import (
    PLANS,
    MixtureMergingConfig,
    branch_table,
    error_vs_depth_table,
    error_vs_k_table,
    figures,
    linear_node_predictions,
    make_mixture,
    plan_table,
    run,
)
from distillplan.linear import LinearTeacher, MergeModel, canonical_plan, evaluate_plan
from distillplan.merging.vp_mixture import coordinate_variances

torch.set_num_threads(1)

TINY = MixtureMergingConfig(teacher_steps=3, dim=2, components=3, width=8, depth=1, train_steps=5, batch=16,
                            branch_samples=256, eval_samples=64, threads=1)


@pytest.fixture(scope="module")
def rows():
    return run(TINY, 0)


def _numbers(row):
    return [v for v in row.values() if isinstance(v, float)]


def test_tiny_run_is_finite_and_has_every_part(rows):
    parts = {r["part"] for r in rows}
    assert parts == {"branches", "merge_k", "leaf", "node", "plan"}
    assert all(math.isfinite(v) for r in rows for v in _numbers(r) if v is not None)
    assert {r["plan"] for r in rows if r["part"] == "plan"} == set(PLANS)
    br = [r for r in rows if r["part"] == "branches"]
    assert {(r["anchor"], r["k"]) for r in br} == {(a, k) for a in ("data", "noise") for k in (1, 2, 3)}
    for r in br:
        assert 1 <= r["massive"] <= r["distinct"] <= min(r["max_branches"], r["samples"])
        assert 1 <= r["effective"] <= r["distinct"] + 1e-9
    for r in rows:
        if r["part"] in ("merge_k", "node", "leaf", "plan"):
            assert r["relmse"] >= 0
    boot_nodes = [r for r in rows if r["part"] == "node" and r["plan"] == "boot"]
    assert [r["height"] for r in boot_nodes] == [1, 2] and boot_nodes[-1]["is_root"]


def _same(a, b):
    drop = ("part_s", "train_s")
    return [{k: v for k, v in r.items() if k not in drop} for r in a] == [{k: v for k, v in r.items() if k not in drop} for r in b]


def test_run_is_deterministic_up_to_timings(rows):
    assert _same(rows, run(TINY, 0))
    other = run(MixtureMergingConfig(**{**TINY.__dict__, "parts": ("merge_k",)}), 1)
    mine = [r for r in rows if r["part"] == "merge_k"]
    assert [r["relmse"] for r in other] != [r["relmse"] for r in mine]


def test_tables_and_figure(rows, tmp_path):
    flat = [{**TINY.__dict__, "seed": 0, **r} for r in rows]
    assert len(branch_table(flat)) == 6 and len(error_vs_k_table(flat)) == 6
    depth = error_vs_depth_table(flat)
    assert {(r["plan"], r["height"]) for r in depth} >= {("boot", 1), ("boot", 2), ("vanilla", 1)}
    plans = plan_table(flat)
    assert [r["plan"] for r in plans] == list(PLANS)
    paths = figures(flat, tmp_path)
    assert len(paths) == 1 and paths[0].stat().st_size > 0


def test_linear_node_predictions_match_evaluate_plan():
    cfg = MixtureMergingConfig(teacher_steps=6, dim=3, components=4)
    lt = LinearTeacher(cfg.vp_schedule(), coordinate_variances(make_mixture(cfg)))
    for name in ("progressive", "boot"):
        plan = canonical_plan(name, 6)
        model = MergeModel(2.0)
        pred = linear_node_predictions(plan, lt, model)
        assert len(pred) == plan.stages
        np.testing.assert_allclose(pred[plan.to_text()]["M"], evaluate_plan(plan, lt, model).root)
        assert all(p["lin_dev"] > 0 for p in pred.values())
        perfect = linear_node_predictions(plan, lt, MergeModel(200.0))  # e^{-s} = 0: students are exact
        assert max(p["lin_dev"] for p in perfect.values()) < 1e-12


def test_mixture_is_centred_and_lambda_is_its_variance():
    cfg = MixtureMergingConfig(dim=3, components=5, box=2.0, sigma0=0.4)
    mix = make_mixture(cfg)
    np.testing.assert_allclose(mix.weights @ mix.means, 0.0, atol=1e-12)
    assert np.all(coordinate_variances(mix) > 0.4**2)


@pytest.mark.parametrize("field, value", [
    ("teacher_steps", 1), ("ks", (0,)), ("ks", (9,)), ("anchors", ("middle",)), ("parts", ()), ("strategies", ("nope",)),
    ("mass_threshold", 2.0), ("activation", "tanh"), ("sigma0", 0.0), ("eval_samples", 1), ("residual", "yes"),
])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(DistillPlanError) as exc:
        MixtureMergingConfig(**{field: value})
    assert exc.value.argument == field


def test_window_lengths_default():
    assert MixtureMergingConfig(teacher_steps=8).window_lengths() == tuple(range(1, 9))
    assert MixtureMergingConfig(teacher_steps=32).window_lengths() == (1, 2, 4, 8, 16, 32)
    assert MixtureMergingConfig(teacher_steps=8, ks=(4, 2, 2)).window_lengths() == (2, 4)


def test_presets():
    spec = get_study("mixture-merging")
    quick = spec.sweep("quick")
    assert len(quick.seeds) >= 2
    for c in quick.configs:
        assert 2 <= c.dim <= 8 and 3 <= c.components <= 5 and c.teacher_steps == 8 and c.device == "cpu"
    paper = spec.sweep("paper")
    assert {(c.dim, c.components, c.teacher_steps) for c in paper.configs} == {(64, 20, 32)}


def test_study_runs_through_the_runner(tmp_path):
    result = CliRunner().invoke(study, [
        "mixture-merging", "--out", str(tmp_path), "--seeds", "0", "--workers", "1", "--no-progress",
        "--set", "teacher_steps=2", "--set", "train_steps=3", "--set", "branch_samples=64", "--set", "eval_samples=32",
        "--set", "width=8", "--set", "depth=1", "--set", "threads=1", "--set", "strategies=vanilla,boot,optimal",
    ])
    assert result.exit_code == 0, result.output
    for name in ("table", "branches", "error_vs_k", "error_vs_depth", "plans"):
        assert (tmp_path / f"{name}.csv").is_file()
    assert list(tmp_path.glob("mixture_merging_*.png"))
