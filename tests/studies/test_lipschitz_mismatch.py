"""Study ``lipschitz-mismatch`` (paper 2, exp2): one-step students under a weight bound."""

import math

import pytest
import torch
from click.testing import CliRunner

from distillplan.commands.study import study
from distillplan.errors import DistillPlanError
from distillplan.studies import get_study
from distillplan.studies.lipschitz_mismatch import (
    BOUNDS,
    SIGMAS,
    LipschitzMismatchConfig,
    half_life,
    paper,
    quick,
    report_tables,
    run,
    save_figures,
)
from distillplan.mixture import IsotropicMixture, OUProcess, cumulative_stability, paper_means
from distillplan.nn import MLP, clip_weights_


pytestmark = pytest.mark.usefixtures("one_thread")


TINY = dict(dim=6, components=3, width=16, train_steps=12, batch=16, lr=1e-2, eval_samples=200, lipschitz_samples=6,
            threads=1)


@pytest.fixture(scope="module")
def tiny_rows():
    torch.set_num_threads(1)
    rows = []
    for sigma0 in (0.1, 0.001):
        for bound in (0.001, 0.1):
            for seed in (0, 1):
                rows += run(LipschitzMismatchConfig(**{**TINY, "sigma0": sigma0, "bound": bound}), seed)
    return rows


def test_half_life():
    assert half_life(5.0) == pytest.approx(0.0693147, abs=1e-7)
    assert math.exp(-2 * 5.0 * half_life(5.0)) == pytest.approx(0.5)
    assert LipschitzMismatchConfig().start_time == half_life(5.0)
    assert LipschitzMismatchConfig(delta=0.2).start_time == 0.2


def test_clip_weights_keeps_weights_in_the_box_and_leaves_biases():
    net = MLP(4, 32, 3, "alternating", generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for layer in net.layers:
            layer.bias.fill_(0.7)
    before = [layer.weight.detach().clone() for layer in net.layers]
    clip_weights_(net, 0.05)
    for layer, old in zip(net.layers, before):
        assert layer.weight.detach().abs().max() <= 0.05  # float32 comparison
        torch.testing.assert_close(layer.weight.detach(), old.clamp(-0.05, 0.05))
        assert torch.all(layer.bias == 0.7)


def test_rows_are_finite_and_weights_respect_the_bound(tiny_rows):
    assert len(tiny_rows) == 8
    for r in tiny_rows:
        for key in ("relmse", "student_lipschitz", "weight_spectral_product", "target_lipschitz",
                    "log10_stability_factor", "teacher_gain", "exact_gain", "teacher_rms", "final_loss"):
            assert math.isfinite(r[key]), key
        assert r["max_abs_weight"] <= r["bound"] * (1 + 1e-6)
        assert r["student_lipschitz"] >= r["student_lipschitz_mean"] >= 0
        assert r["delta"] == pytest.approx(half_life(5.0))
    tight = [r for r in tiny_rows if r["bound"] == 0.001]
    assert all(r["relmse"] > 0.9 for r in tight)  # B = 0.001: nothing is learned


def test_stability_factor_and_teacher_diagnostics(tiny_rows):
    r = next(r for r in tiny_rows if r["sigma0"] == 0.001)
    mixture = IsotropicMixture.equal_weights(paper_means(3, 6, 0), 0.001)
    budget = float(cumulative_stability(half_life(5.0), mixture, OUProcess(5.0, 1.0)))
    assert r["stability_A"] == pytest.approx(budget)
    assert r["log10_stability_factor"] == pytest.approx(budget / math.log(10))
    assert r["teacher_gain"] == pytest.approx(-810.0155, rel=1e-5)  # 10 RK4 steps: unstable, not σ0/s_Δ
    assert r["exact_gain"] == pytest.approx(0.001 / math.sqrt(0.5 + 0.5e-6), rel=1e-6)
    assert r["target_lipschitz"] >= abs(r["teacher_gain"]) * (1 - 1e-6)
    assert r["teacher_rms"] > 10 * r["exact_rms"]


def test_deterministic_for_a_seed():
    config = LipschitzMismatchConfig(**{**TINY, "train_steps": 5, "eval_samples": 50, "lipschitz_samples": 3})
    a, b, c = run(config, 2)[0], run(config, 2)[0], run(config, 3)[0]
    assert a["relmse"] == b["relmse"] and a["student_lipschitz"] == b["student_lipschitz"]
    assert a["relmse"] != c["relmse"]
    skipped = run(LipschitzMismatchConfig(**{**TINY, "train_steps": 2, "eval_samples": 20, "lipschitz_samples": 0}), 0)[0]
    assert math.isnan(skipped["student_lipschitz"]) and math.isfinite(skipped["weight_spectral_product"])


def test_tables_and_figures(tiny_rows, tmp_path):
    tables = report_tables(tiny_rows)
    pivot = tables["relmse_pivot"]
    assert [r["sigma0"] for r in pivot] == [0.1, 0.001]
    assert set(pivot[0]) == {"sigma0", "B=0.001", "B=0.1"} and "±" in pivot[0]["B=0.1"]
    lip = tables["lipschitz"]
    assert len(lip) == 4 and all(r["seeds"] == 2 for r in lip)
    paths = save_figures(tiny_rows, tmp_path)
    assert [p.name for p in paths] == ["relmse_vs_bound.png", "lipschitz_vs_bound.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_presets():
    spec = paper()
    assert len(spec) == 16 * 10
    assert {(c.sigma0, c.bound) for c in spec.configs} == {(s, b) for s in SIGMAS for b in BOUNDS}
    for c in spec.configs:
        assert (c.dim, c.components, c.means_seed, c.box, c.beta, c.width, c.depth, c.activation) == (
            64, 20, 0, 5.0, 5.0, 512, 4, "alternating")
        assert (c.teacher_steps, c.train_steps, c.batch, c.lr, c.grad_clip, c.eval_samples, c.delta) == (
            10, 20_000, 1024, 2e-4, 1.0, 50_000, None)
    q = quick()
    assert len(q) == 16 * len(q.seeds) and len(q.seeds) >= 2
    assert all(c.teacher_steps == 10 and c.dim == 64 and c.teacher_grid == "uniform" for c in q.configs)


def test_geometric_teacher_matches_the_exact_flow_map():
    """σ0 = 1e−3 with a 100-step geometric teacher: its gain is the exact σ0/s_Δ, not −810 (10 equal steps)."""
    config = LipschitzMismatchConfig(**{**TINY, "sigma0": 0.001, "teacher_grid": "geometric", "teacher_steps": 100,
                                        "eval_samples": 1000})
    r = run(config, 0)[0]
    assert r["teacher_grid"] == "geometric"
    assert r["teacher_gain"] == pytest.approx(r["exact_gain"], rel=1e-3)
    assert r["teacher_rms"] == pytest.approx(r["exact_rms"], rel=5e-2)
    assert math.isfinite(r["target_lipschitz"]) and math.isfinite(r["relmse"])


@pytest.mark.parametrize("field, value", [
    ("bound", 0.0), ("sigma0", -1.0), ("delta", 2.0), ("teacher_steps", 0), ("activation", "tanh"),
    ("lipschitz_samples", -1), ("device", "gpu"), ("teacher_grid", "adaptive"),
])
def test_bad_config(field, value):
    with pytest.raises(DistillPlanError, match=field):
        LipschitzMismatchConfig(**{field: value})


def test_smoke_through_the_runner(tmp_path):
    assert get_study("lipschitz-mismatch").name == "lipschitz-mismatch"
    result = CliRunner().invoke(study, [
        "lipschitz-mismatch", "--preset", "quick", "--out", str(tmp_path), "--seeds", "0", "--workers", "1",
        "--no-progress", "--set", "dim=4", "--set", "components=2", "--set", "width=8", "--set", "train_steps=2",
        "--set", "batch=8", "--set", "eval_samples=32", "--set", "lipschitz_samples=2", "--set", "threads=1",
    ])
    assert result.exit_code == 0, result.output
    assert "16 runs: 16 run now" in result.output
    for name in ("table.csv", "relmse_pivot.csv", "lipschitz.csv", "relmse_vs_bound.png", "lipschitz_vs_bound.png"):
        assert (tmp_path / name).exists(), name
    header = (tmp_path / "table.csv").read_text().splitlines()[0]
    assert header.startswith("sigma0,bound,n,relmse_mean,relmse_std,student_lipschitz_mean")
