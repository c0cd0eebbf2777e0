"""Study ``score-approx`` (paper 2, exp1): static score approximation at fixed times."""

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from distillplan.commands.study import study
from distillplan.errors import DistillPlanError
from distillplan.studies import get_study
from distillplan.studies.score_approx import (
    PAPER_TIMES,
    ScoreApproxConfig,
    paper,
    pivot_tables,
    quick,
    run,
    save_figures,
)
from distillplan.mixture import paper_means


pytestmark = pytest.mark.usefixtures("one_thread")


TINY = dict(dim=6, components=3, width=16, train_steps=10, batch=16, lr=1e-2, eval_samples=200, threads=1)


@pytest.fixture(scope="module")
def tiny_rows():
    torch.set_num_threads(1)
    rows = []
    for sigma0, width in ((0.1, 8), (0.1, 16), (1.0, 16)):
        for seed in (0, 1):
            rows += run(ScoreApproxConfig(**{**TINY, "sigma0": sigma0, "width": width}), seed)
    return rows


def test_run_returns_one_finite_row_per_time(tiny_rows):
    rows = [r for r in tiny_rows if r["seed"] == 0 and r["width"] == 16 and r["sigma0"] == 0.1]
    assert [r["t_frac"] for r in rows] == list(PAPER_TIMES)
    assert [r["t"] for r in rows] == pytest.approx(list(PAPER_TIMES))
    for r in rows:
        assert all(math.isfinite(r[k]) for k in ("relmse", "final_loss", "score_rms", "s_t2", "train_s"))
        assert 0 < r["relmse"] < 5 and r["means_seed"] == 0
        s02 = 0.1**2
        assert r["s_t2"] == pytest.approx(math.exp(-10 * r["t"]) * s02 + 1 - math.exp(-10 * r["t"]))


def test_deterministic_for_a_seed_and_means_redrawn_per_seed():
    config = ScoreApproxConfig(**{**TINY, "train_steps": 8, "times": (0.2, 0.6)})
    a, b, c = run(config, 3), run(config, 3), run(config, 4)
    assert [r["relmse"] for r in a] == [r["relmse"] for r in b]
    assert [r["relmse"] for r in a] != [r["relmse"] for r in c]
    assert a[0]["mean_diameter"] != c[0]["mean_diameter"]  # means seed = trial seed
    fixed = ScoreApproxConfig(**{**TINY, "train_steps": 8, "times": (0.2,), "means_seed": 7})
    assert run(fixed, 3)[0]["mean_diameter"] == run(fixed, 4)[0]["mean_diameter"]
    d0 = np.max(np.linalg.norm(paper_means(3, 6, 3)[:, None] - paper_means(3, 6, 3)[None], axis=-1))
    assert a[0]["mean_diameter"] == pytest.approx(d0)


def test_training_beats_the_untrained_student():
    config = ScoreApproxConfig(**{**TINY, "times": (0.5,), "train_steps": 300, "width": 32, "eval_samples": 2000})
    trained = run(config, 0)[0]["relmse"]
    untrained = run(ScoreApproxConfig(**{**TINY, "times": (0.5,), "train_steps": 1, "width": 32, "lr": 1e-9,
                                         "eval_samples": 2000}), 0)[0]["relmse"]
    assert trained < 0.5 * untrained


def test_pivot_tables_and_figures(tiny_rows, tmp_path):
    tables = pivot_tables(tiny_rows)
    sigma, width = tables["sigma_sweep"], tables["width_sweep"]
    assert [(r["sigma0"], r["width"]) for r in sigma] == [(0.1, 16), (1.0, 16)]
    assert [(r["sigma0"], r["width"]) for r in width] == [(0.1, 8), (0.1, 16)]
    assert all(r["seeds"] == 2 and "±" in r["t/T=0.1"] for r in sigma + width)
    paths = save_figures(tiny_rows, tmp_path)
    assert [p.name for p in paths] == ["score_error_vs_t.png", "score_error_vs_width.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_presets():
    spec = paper()
    configs = spec.configs
    assert len(spec) == 7 * 10 and spec.seeds == tuple(range(10))
    cells = {(c.sigma0, c.width) for c in configs}
    assert cells == {(0.01, 512), (0.1, 512), (1.0, 512), (0.1, 128), (0.1, 256), (0.1, 1024), (0.1, 2048)}
    for c in configs:
        assert (c.dim, c.components, c.box, c.beta, c.horizon, c.depth, c.activation) == (64, 20, 5.0, 5.0, 1.0, 4, "alternating")
        assert (c.train_steps, c.batch, c.lr, c.grad_clip, c.weight_decay, c.eval_samples) == (20_000, 1024, 2e-4, 1.0, 0.0, 50_000)
        assert c.times == PAPER_TIMES and c.means_seed is None
    q = quick()
    assert len(q) == 6 * 2 and len(q.seeds) >= 2
    assert all(c.dim == 64 and c.components == 20 and c.times == PAPER_TIMES for c in q.configs)


@pytest.mark.parametrize("field, value", [
    ("sigma0", 0.0), ("width", 0), ("activation", "gelu"), ("times", ()), ("times", (0.5, 1.5)),
    ("times", (0.3, 0.3)), ("means_seed", -1), ("device", "tpu"), ("lr", -1.0),
])
def test_bad_config(field, value):
    with pytest.raises(DistillPlanError, match=field):
        ScoreApproxConfig(**{field: value})


def test_smoke_through_the_runner(tmp_path):
    assert get_study("score-approx").name == "score-approx"
    result = CliRunner().invoke(study, [
        "score-approx", "--preset", "quick", "--out", str(tmp_path), "--seeds", "0", "--workers", "1",
        "--no-progress", "--set", "dim=4", "--set", "components=3", "--set", "train_steps=3", "--set", "batch=8",
        "--set", "eval_samples=64", "--set", "times=0.3,0.9", "--set", "threads=1",
    ])
    assert result.exit_code == 0, result.output
    assert "6 runs: 6 run now" in result.output
    for name in ("table.csv", "sigma_sweep.csv", "width_sweep.csv", "score_error_vs_t.png", "score_error_vs_width.png"):
        assert (tmp_path / name).exists(), name
    header = (tmp_path / "table.csv").read_text().splitlines()[0]
    assert header == "sigma0,width,t_frac,n,relmse_mean,relmse_std"
