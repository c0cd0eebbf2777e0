"""The checks behind the CLI's error lines live in the functions that own the values: the Python API
rejects the same input, naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from distillplan import VPSchedule
from distillplan.errors import DistillPlanError, check_int_range, check_positive, check_range, check_seed
from distillplan.export import from_ou_grid, training_alphas_bar
from distillplan.io import check_output_dir, check_output_file, read_vector
from distillplan.linear import MAX_STEPS, LinearTeacher, MergeModel, Plan, boot, check_variances, optimal_plan
from distillplan.linear.planners import (MAX_DISTINCT_VARIANCES, check_planner_size, check_stage_front,
                                         max_front_stages, planner_seconds)
from distillplan.mixture import IsotropicMixture, OUProcess, make_grid, paper_means, segment_stability
from distillplan.mixture.data import check_samples, fit_isotropic_mixture
from distillplan.pipelines.recommend import recommend


def _argument(call) -> str:
    with pytest.raises(DistillPlanError) as info:
        call()
    return info.value.argument


def test_scalar_checks():
    assert _argument(lambda: check_positive("x", 1e-310)) == "x"  # subnormal
    assert check_positive("x", 2.3e-308) == 2.3e-308
    assert _argument(lambda: check_range("x", 11, 0, 10)) == "x"
    assert _argument(lambda: check_range("x", float("nan"), 0, 10)) == "x"
    assert check_int_range("n", 10, 1, 10) == 10
    assert _argument(lambda: check_int_range("n", 11, 1, 10)) == "n"
    assert _argument(lambda: check_seed("seed", 2**32)) == "seed"
    assert _argument(lambda: check_seed("seed", -1)) == "seed"


def test_output_paths_are_checked_without_creating_anything(tmp_path):
    (tmp_path / "file").write_text("x")
    assert check_output_dir("out", tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()
    for bad in (tmp_path / "file", tmp_path / "file" / "sub"):
        assert _argument(lambda: check_output_dir("out", bad)) == "out"
    assert check_output_file("draw", tmp_path / "x.PNG", (".png",)) == tmp_path / "x.PNG"
    for bad in (tmp_path / "missing" / "x.png", tmp_path / "file" / "x.png", tmp_path / "x.xyz", tmp_path):
        assert _argument(lambda: check_output_file("draw", bad, (".png",))) == "draw"


@pytest.mark.parametrize(("shape", "ok"), [((5,), True), ((5, 1), True), ((1, 5), True), ((3, 3), False),
                                           ((2, 2, 2), False)])
def test_read_vector_takes_one_row_or_column(tmp_path, shape, ok):
    path = tmp_path / "v.npy"
    np.save(path, np.ones(shape))
    if ok:
        assert read_vector(path, "v").shape == (5,)
    else:
        assert _argument(lambda: read_vector(path, "v")) == "v"


def test_variances_schedules_and_plans():
    assert _argument(lambda: check_variances([0.5, 1e-310])) == "lam"
    assert _argument(lambda: check_variances([1e13])) == "lam"
    assert _argument(lambda: VPSchedule.from_alphas([1.0, 1.0, 1.0])) == "alphas"
    assert _argument(lambda: boot(MAX_STEPS + 1)) == "steps"
    assert _argument(lambda: Plan.parse("[" * (MAX_STEPS + 1) + "]" * (MAX_STEPS + 1))) == "plan"
    teacher = LinearTeacher(VPSchedule.cosine(8), np.geomspace(0.1, 10, MAX_DISTINCT_VARIANCES + 1))
    assert _argument(lambda: optimal_plan(teacher, max_stages=3)) == "lam"  # the Pareto DP's limit
    assert optimal_plan(teacher).solver == "relaxed"  # no stage budget: the relaxed planner scales


def test_planner_size_and_stage_front_limits():
    check_planner_size(4096, 1, 1)
    assert _argument(lambda: check_planner_size(4096, 2, 2)) == "lam"
    check_planner_size(32, 60_000, 60_000, relaxed=True)
    assert _argument(lambda: check_planner_size(32, 200_000, 200_000, relaxed=True)) == "lam"
    assert _argument(lambda: check_planner_size(32, 1, 2_000_000, "variances")) == "variances"
    assert max_front_stages(32) >= 31 and max_front_stages(4096) < 1
    check_stage_front(32)
    assert _argument(lambda: check_stage_front(128)) == "front"
    assert _argument(lambda: check_stage_front(2048, 3)) == "max_stages"


def test_planner_estimate_follows_the_measurements():
    dp, worst = planner_seconds(4096, [0.5])
    assert dp == worst and 30 < dp < 120  # measured 55 s
    dp, worst = planner_seconds(2048, [2.0])
    assert 10 < dp < 60 and worst == dp  # measured 20.5 s; λ = 2 lies above the Pareto window
    dp, worst = planner_seconds(128, [1.025])
    assert dp < 1 and 6 < worst < 25  # measured 12 s with the Pareto DP
    assert planner_seconds(64, [0.5])[0] < planner_seconds(128, [0.5])[0] < planner_seconds(256, [0.5])[0]


def test_ou_process_and_mixture_ranges():
    assert _argument(lambda: OUProcess(1e308, 1.0)) == "beta"
    assert _argument(lambda: OUProcess(5.0, 1e-7)) == "horizon"
    assert _argument(lambda: OUProcess(5.0, 100.0)) == "horizon"  # β·T = 500
    assert _argument(lambda: IsotropicMixture([1.0], [[0.0]], 1e-300)) == "sigma0"
    assert _argument(lambda: paper_means(20, 64, seed=2**40)) == "seed"
    assert _argument(lambda: paper_means(20, 64, box=1e300)) == "box"
    assert _argument(lambda: paper_means(20, 10**8)) == "dim"


@pytest.mark.parametrize("kind", ["uniform", "karras", "logsnr", "stability"])
def test_segment_stabilitys_are_never_negative_nor_minus_zero(kind):
    mixture = IsotropicMixture.equal_weights(paper_means(20, 64, 0, 5.0), 1e-8)
    for process in (OUProcess(5.0, 1.0), OUProcess(290.0, 1.0)):
        budget = segment_stability(make_grid(kind, 64, process, mixture), mixture, process)
        assert np.all(budget >= 0) and not np.any(np.signbit(budget))


def test_samples_must_vary_in_every_coordinate():
    x = np.c_[np.random.default_rng(0).normal(size=(40, 2)), np.ones(40)]
    assert _argument(lambda: check_samples(x)) == "data"
    assert _argument(lambda: fit_isotropic_mixture(x)) == "data"
    assert _argument(lambda: fit_isotropic_mixture(np.ones((40, 3)))) == "data"


def test_export_limits():
    assert _argument(lambda: from_ou_grid([1e9, 0.0], 5.0)) == "grid"
    assert _argument(lambda: from_ou_grid([1.0, 0.0], 0.0)) == "beta"
    assert _argument(lambda: training_alphas_bar(10**9)) == "train_steps"


def test_recommend_validates_before_writing(tmp_path):
    x = np.random.default_rng(0).normal(size=(50, 3))
    out = tmp_path / "rec"
    for kwargs, argument in (({"seed": -1}, "seed"), ({"steps": 10**6}, "steps"), ({"segments": 0}, "segments"),
                             ({"components": 30}, "components"), ({"beta": 1e9}, "beta")):
        assert _argument(lambda: recommend(x, out, **kwargs)) == argument
    assert _argument(lambda: recommend(x * 1e5, out)) == "data"  # the fitted σ0 is out of range
    assert not out.exists()
    assert MergeModel(1e300, rate="variance")  # an enormous budget is legal (the weight is 0)
