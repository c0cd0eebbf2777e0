"""Study ``residual-depth`` (paper 2, exp3): the full-horizon map vs number of blocks."""

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from distillplan.commands.study import study
from distillplan.errors import DistillPlanError
from distillplan.studies import get_study
from distillplan.studies.residual_depth import (
    ARCHITECTURES,
    BLOCKS,
    ResidualDepthConfig,
    build_student,
    paper,
    pivot_table,
    quick,
    run,
    save_figures,
)
from distillplan.flowmap import teacher_nodes
from distillplan.mixture import TEACHER_GRIDS
from distillplan.nn import CoordinateTransformer, ResidualComposition, parameter_count


pytestmark = pytest.mark.usefixtures("one_thread")


TINY = dict(dim=6, components=3, inner_width=16, d_model=8, heads=2, teacher_steps=20, train_steps=8, batch=16, lr=1e-2,
            eval_samples=200, affine_samples=256, threads=1)


CELLS = [("resnet", "uniform"), ("transformer", "uniform"), ("resnet", "geometric")]


@pytest.fixture(scope="module")
def tiny_rows():
    torch.set_num_threads(1)
    rows = []
    for arch, teacher in CELLS:
        for blocks in (1, 2):
            for seed in (0, 1):
                rows += run(ResidualDepthConfig(**{**TINY, "arch": arch, "teacher_grid": teacher, "blocks": blocks}), seed)
    return rows


def test_build_student():
    res = build_student(ResidualDepthConfig(**{**TINY, "blocks": 3}), seed=0)
    assert isinstance(res, ResidualComposition) and res.blocks == 3 and res.alpha == pytest.approx(-1 / 3)
    assert all(s.dims == [6, 16, 16, 6] and s.activation == "relu" for s in res.scores)
    tr = build_student(ResidualDepthConfig(**{**TINY, "arch": "transformer", "blocks": 2}), seed=0)
    assert isinstance(tr, CoordinateTransformer) and tr.blocks == 2
    again = build_student(ResidualDepthConfig(**{**TINY, "arch": "transformer", "blocks": 2}), seed=0)
    assert all(torch.equal(p, q) for p, q in zip(tr.parameters(), again.parameters()))
    paper_res = build_student(ResidualDepthConfig(blocks=1), seed=0)
    assert parameter_count(paper_res) == 64 * 128 + 128 + 128 * 128 + 128 + 128 * 64 + 64


def test_rows_are_finite(tiny_rows):
    assert len(tiny_rows) == 12
    assert {(r["arch"], r["teacher_grid"], r["blocks"], r["seed"]) for r in tiny_rows} == {
        (a, t, b, s) for a, t in CELLS for b in (1, 2) for s in (0, 1)}
    for r in tiny_rows:
        for key in ("relmse", "affine_relmse", "final_loss", "teacher_gain", "exact_gain", "teacher_rms", "exact_rms",
                    "train_s"):
            assert math.isfinite(r[key]), key
        assert r["relmse"] > 0 and r["parameters"] > 0 and 0 < r["affine_relmse"] < 1
    for teacher in TEACHER_GRIDS:  # the floor depends on the teacher only
        assert len({r["affine_relmse"] for r in tiny_rows if r["teacher_grid"] == teacher}) == 1


def test_deterministic_for_a_seed():
    for arch in ARCHITECTURES:
        config = ResidualDepthConfig(**{**TINY, "arch": arch, "blocks": 2, "train_steps": 4, "eval_samples": 50})
        a, b, c = run(config, 5)[0], run(config, 5)[0], run(config, 6)[0]
        assert a["relmse"] == b["relmse"] and a["final_loss"] == b["final_loss"]
        assert a["relmse"] != c["relmse"]


def test_teacher_diagnostics_at_the_paper_setting():
    """σ0 = 1e−3, 100 RK4 steps over [0, 1]: the teacher multiplies orthogonal directions by ≈ −995."""
    row = run(ResidualDepthConfig(train_steps=1, batch=4, eval_samples=2048, affine_samples=4096, teacher_steps=100,
                                  threads=1), 0)[0]
    assert row["teacher_gain"] == pytest.approx(-994.668, rel=1e-5)
    assert 0.05 < row["affine_relmse"] < 0.09  # ≈ 0.067: 93% of the target is an affine map of x_T
    assert row["exact_gain"] == pytest.approx(1e-3, rel=1e-3)
    assert row["exact_rms"] == pytest.approx(23.5758, rel=1e-4)
    assert row["teacher_rms"] > 100 * row["exact_rms"]


def test_teacher_grids_match_the_train_package():
    from distillplan.flowmap import TEACHER_GRIDS as TRAIN_GRIDS

    assert TEACHER_GRIDS == TRAIN_GRIDS


def test_geometric_teacher_is_the_accurate_flow_map():
    """Same setting on the geometric teacher: gain and output size match the exact flow map."""
    row = run(ResidualDepthConfig(teacher_grid="geometric", train_steps=1, batch=4, eval_samples=2048, affine_samples=0,
                                  threads=1), 0)[0]
    assert row["teacher_gain"] == pytest.approx(row["exact_gain"], rel=1e-3)
    assert row["teacher_rms"] == pytest.approx(row["exact_rms"], rel=2e-2)
    nodes = teacher_nodes(ResidualDepthConfig().field(dtype=torch.float64), 1.0, 0.0, 100, "geometric")
    assert len(nodes) == 101 and nodes[0] == 1.0 and nodes[-1] == 0.0 and nodes[-2] == pytest.approx(1e-9)
    uniform = teacher_nodes(ResidualDepthConfig().field(dtype=torch.float64), 1.0, 0.0, 100, "uniform")
    assert len(uniform) == 101 and uniform[0] == 1.0 and uniform[-1] == 0.0
    assert np.allclose(np.diff(uniform), -0.01)


def test_training_lowers_the_error():
    config = dict(TINY, blocks=2, teacher_steps=10, sigma0=0.5, eval_samples=500)
    trained = run(ResidualDepthConfig(**{**config, "train_steps": 150}), 0)[0]["relmse"]
    untrained = run(ResidualDepthConfig(**{**config, "train_steps": 1, "lr": 1e-9}), 0)[0]["relmse"]
    assert trained < 0.5 * untrained


def test_table_and_figure(tiny_rows, tmp_path):
    table = pivot_table(tiny_rows)["relmse_pivot"]
    assert [r["blocks"] for r in table] == [1, 2]
    assert set(table[0]) == {"blocks", "resnet (uniform teacher)", "transformer (uniform teacher)",
                             "resnet (geometric teacher)", "affine_floor (uniform teacher)",
                             "affine_floor (geometric teacher)"}
    assert "±" in table[0]["resnet (geometric teacher)"]
    for teacher in TEACHER_GRIDS:
        row = next(r for r in tiny_rows if r["teacher_grid"] == teacher)
        assert table[0][f"affine_floor ({teacher} teacher)"] == pytest.approx(row["affine_relmse"])
    paths = save_figures(tiny_rows, tmp_path)
    assert [p.name for p in paths] == ["relmse_vs_blocks.png"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_presets():
    spec = paper()
    assert len(spec) == 2 * 5 * 10
    assert {(c.arch, c.blocks) for c in spec.configs} == {(a, b) for a in ARCHITECTURES for b in BLOCKS}
    for c in spec.configs:
        assert (c.dim, c.components, c.means_seed, c.beta, c.horizon, c.sigma0, c.teacher_steps) == (
            64, 20, 0, 5.0, 1.0, 1e-3, 100)
        assert (c.inner_width, c.inner_depth, c.d_model, c.heads, c.ff_mult) == (128, 2, 128, 4, 4)
        assert (c.train_steps, c.batch, c.lr, c.grad_clip, c.eval_samples) == (20_000, 1024, 2e-4, 1.0, 50_000)
    assert {c.teacher_grid for c in spec.configs} == {"uniform"}
    q = quick()
    assert {c.blocks for c in q.configs if c.arch == "resnet" and c.teacher_grid == "geometric"} == set(BLOCKS)
    assert {c.blocks for c in q.configs if c.arch == "resnet" and c.teacher_grid == "uniform"}
    assert len(q.seeds) >= 2 and all(c.sigma0 == 1e-3 and c.teacher_steps == 100 for c in q.configs)


@pytest.mark.parametrize("field, value", [
    ("arch", "mlp"), ("blocks", 0), ("heads", 3), ("sigma0", 0.0), ("teacher_steps", 1), ("device", "x"),
    ("teacher_grid", "adaptive"),
    ("affine_samples", -1),
])
def test_bad_config(field, value):
    with pytest.raises(DistillPlanError, match=field):
        ResidualDepthConfig(**{field: value})


def test_smoke_through_the_runner(tmp_path):
    assert get_study("residual-depth").name == "residual-depth"
    result = CliRunner().invoke(study, [
        "residual-depth", "--preset", "quick", "--out", str(tmp_path), "--seeds", "0", "--workers", "1",
        "--no-progress", "--set", "dim=4", "--set", "components=2", "--set", "inner_width=4", "--set", "d_model=4",
        "--set", "heads=1", "--set", "train_steps=2", "--set", "batch=4", "--set", "eval_samples=16",
        "--set", "teacher_steps=5", "--set", "threads=1",
    ])
    assert result.exit_code == 0, result.output
    for name in ("table.csv", "relmse_pivot.csv", "relmse_vs_blocks.png"):
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "table.csv").read_text().splitlines()[0] == (
        "arch,teacher_grid,blocks,n,relmse_mean,relmse_std,affine_relmse_mean,affine_relmse_std")
