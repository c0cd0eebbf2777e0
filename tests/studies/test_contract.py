"""Contract over every registered study: a tiny config runs through the runner, writes its tables and
figures, and a rerun into the same folder computes nothing.

Adding a study = one module + one line in ``distillplan.studies.STUDIES`` + one row in ``TINY`` below.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from distillplan.runner import Study, StudyRun
from distillplan.studies import get_study, run_study, study_names
from distillplan.studies._kit import StudyConfig, field_ranges

pytestmark = pytest.mark.usefixtures("one_thread")

PAPER2 = dict(dim=4, components=3, threads=1)

TINY = {
    "latents": dict(dataset="npy:{latents}", teacher_train_steps=5, teacher_hidden=8, teacher_depth=1, train_steps=2,
                    batch=8, teacher_steps=4, n_samples=8, n_show=2, cache_dir="{cache}"),
    "linear-sweep": dict(teacher_steps=5),
    "lipschitz-mismatch": dict(PAPER2, width=8, train_steps=2, batch=8, eval_samples=32, lipschitz_samples=2),
    "mixture-merging": dict(teacher_steps=3, train_steps=2, branch_samples=64, eval_samples=32, width=4, threads=1),
    "model-grids": dict(model="mixture", segments=(2, 3), dim=4, components=3, eval_samples=16, teacher_points=9, cal_samples=4,
                        cal_points=9, cal_iters=2, fine_points=7, pool_samples=32, pool_points=9,
                        total_train_steps=8, width=8, depth=1, batch=8, cache_dir="{cache}", threads=1),
    "residual-depth": dict(PAPER2, inner_width=4, d_model=4, heads=1, train_steps=2, batch=4, eval_samples=16,
                           affine_samples=0, teacher_steps=5),
    "score-approx": dict(PAPER2, width=8, depth=2, train_steps=3, batch=8, eval_samples=32),
    "stability-grid": dict(PAPER2, width=8, depth=1, total_train_steps=16, batch=8, eval_samples=64, local_samples=16,
                           teacher_total_steps=10, reference_steps=10),
    "trained-linear": dict(teacher_steps=4, train_steps=3, samples=16),
}
"""Per study: the overrides that make its quick preset tiny."""


def test_every_registered_study_has_a_row():
    assert sorted(TINY) == study_names()


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_run_writes_outputs_and_a_rerun_computes_nothing(name, tmp_path):
    study = get_study(name)
    assert isinstance(study, Study) and {"quick", "paper"} <= set(study.presets)
    np.save(tmp_path / "latents.npy", np.random.default_rng(0).normal(size=(64, 3)) * [1.0, 0.5, 2.0])
    overrides = {k: v.format(latents=tmp_path / "latents.npy", cache=tmp_path / "cache") if isinstance(v, str) else v
                 for k, v in TINY[name].items()}
    out = tmp_path / "out"
    lines: list[str] = []
    first = run_study(name, out, seeds=[0], overrides=overrides, workers=1, progress=False, announce=lines.append)
    assert isinstance(first, StudyRun)
    total = first.report.total
    assert first.report.completed == total > 0 and first.report.skipped == 0 and not first.report.failures
    assert lines and lines[0].startswith(f"{name}: {total} of {total} runs to compute")
    assert first.rows and first.table
    written = {p.name for p in first.written}
    assert "table.csv" in written
    assert {f"{table}.csv" for table in study.tables(first.rows)} <= written if study.tables else True
    figures = [p for p in first.written if p.suffix == ".png"]
    assert figures and all(p.stat().st_size > 1000 for p in figures)

    again = run_study(name, out, seeds=[0], overrides=overrides, workers=1, progress=False)
    assert again.report.completed == 0 and again.report.skipped == total
    assert (out / "table.csv").read_text() == first.written[0].read_text()


@pytest.mark.parametrize("name", sorted(TINY))
def test_config_fields_have_stated_ranges_and_defaults(name):
    config_type = get_study(name).config_type
    assert issubclass(config_type, StudyConfig)
    ranges = field_ranges(config_type)
    for item in dataclasses.fields(config_type):
        assert item.name in ranges, item.name
        assert item.default is not dataclasses.MISSING, item.name
        assert str(ranges[item.name])
    config_type()  # the defaults are valid
