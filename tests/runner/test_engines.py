import pytest

from distillplan.errors import DistillPlanError
from distillplan.runner import ResultStore, Sweep, SweepError, grid, run_sweep
from tests.runner import toy_study
from tests.runner.toy_study import TOY, ToyConfig


@pytest.fixture
def calls():
    toy_study.CALLS.clear()
    yield toy_study.CALLS
    toy_study.CALLS.clear()


def test_in_process_run_stores_every_task(tmp_path, calls):
    with ResultStore(tmp_path / "r.sqlite") as store:
        report = run_sweep(TOY, TOY.sweep("quick"), store, workers=1, progress=False)
        assert (report.total, report.completed, report.skipped, report.failures) == (6, 6, 0, [])
        assert len(calls) == 6
        assert store.count_runs("toy") == 6 and len(store.rows("toy")) == 12


def test_resume_runs_only_the_missing_tasks(tmp_path, calls):
    sweep = TOY.sweep("quick")
    with ResultStore(tmp_path / "r.sqlite") as store:
        run_sweep(TOY, Sweep("toy", sweep.configs[:1], seeds=[0, 2]), store, workers=1, progress=False)
        assert len(calls) == 2
        calls.clear()
        report = run_sweep(TOY, sweep, store, workers=1, progress=False)
        assert (report.completed, report.skipped) == (4, 2)
        assert sorted(calls) == [(1.0, 1), (2.0, 0), (2.0, 1), (2.0, 2)]
        calls.clear()
        again = run_sweep(TOY, sweep, store, workers=1, progress=False)
        assert (again.completed, again.skipped, calls) == (0, 6, [])
        assert store.count_runs("toy") == 6 and len(store.rows("toy")) == 12


def test_process_pool_gives_the_same_rows_as_in_process(tmp_path):
    with ResultStore(tmp_path / "a.sqlite") as a, ResultStore(tmp_path / "b.sqlite") as b:
        run_sweep(TOY, TOY.sweep("quick"), a, workers=1, progress=False)
        report = run_sweep(TOY, TOY.sweep("quick"), b, workers=2, progress=False)
        assert report.completed == 6
        assert a.rows("toy") == b.rows("toy")
        # the global numpy RNG is seeded per run: equal across seeds' runs, different across seeds
        draws = {(r["seed"], r["global_draw"]) for r in a.rows("toy")}
        assert len(draws) == 3


def test_failed_runs_are_reported_after_the_others_are_stored(tmp_path, calls):
    with ResultStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(SweepError) as info:
            run_sweep(TOY, TOY.sweep("broken"), store, workers=1, progress=False)
        report = info.value.report
        assert report.completed == 2 and len(report.failures) == 2
        assert "toy failure" in str(info.value) and "RuntimeError" in report.failures[0].traceback
        assert store.count_runs("toy") == 2
        assert {t.key for t in (f.task for f in report.failures)}.isdisjoint(store.done_keys("toy"))


def test_failures_in_a_process_pool_are_reported(tmp_path):
    sweep = Sweep("toy", grid(ToyConfig, fail=[False, True]), seeds=[0, 1])
    with ResultStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(SweepError) as info:
            run_sweep(TOY, sweep, store, workers=2, progress=False)
        assert len(info.value.report.failures) == 2 and store.count_runs() == 2


def test_a_crashed_worker_fails_its_runs_and_a_new_pool_runs_the_rest(tmp_path):
    from dataclasses import replace

    from tests.runner.toy_study import run_or_crash

    study = replace(TOY, run=run_or_crash)
    sweep = Sweep("toy", grid(ToyConfig, fail=[True, False]), seeds=[0, 1, 2])
    with ResultStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(SweepError) as info:
            run_sweep(study, sweep, store, workers=2, progress=False)
        report = info.value.report
        crashed = {t.key for t in sweep.tasks() if t.config.fail}
        assert crashed <= {f.task.key for f in report.failures}
        # at most one good run shares a broken pool with each crash; the others run on a new pool
        assert report.completed + len(report.failures) == 6 and report.completed >= 2
        assert store.count_runs("toy") == report.completed and store.claims() == {}


def test_rows_must_be_a_list_of_dicts(tmp_path):
    from distillplan.runner import execute_task

    with pytest.raises(TypeError):
        execute_task(lambda config, seed: {"x": 1}, ToyConfig(), 0)
    with pytest.raises(TypeError):
        execute_task(lambda config, seed: [{"x": object()}], ToyConfig(), 0)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"engine": "spark"}, "engine"),
        ({"workers": 0}, "workers"),
        ({"scheduler": "tcp://127.0.0.1:8786"}, "scheduler"),
        ({"engine": "dask"}, "scheduler"),
    ],
)
def test_bad_arguments_fail_before_the_store_is_touched(tmp_path, kwargs, argument):
    path = tmp_path / "r.sqlite"
    with pytest.raises(DistillPlanError) as info:
        run_sweep(TOY, TOY.sweep("quick"), ResultStore(path), progress=False, **kwargs)
    assert info.value.argument == argument
    assert not path.exists()


def test_a_sweep_of_another_study_is_rejected(tmp_path):
    with pytest.raises(DistillPlanError) as info:
        run_sweep(TOY, Sweep("other", [ToyConfig()], [0]), ResultStore(tmp_path / "r.sqlite"), progress=False)
    assert info.value.argument == "sweep"


def test_progress_off_a_terminal_is_one_line_per_run(tmp_path, calls, capsys):
    with ResultStore(tmp_path / "r.sqlite") as store:
        run_sweep(TOY, Sweep("toy", TOY.sweep("quick").configs, seeds=[0]), store, workers=1, progress=True)
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 2
        assert lines[0].startswith("toy: 1/2 [") and "seed=0] done in" in lines[0]
        run_sweep(TOY, TOY.sweep("quick"), store, workers=1, progress=True)
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 4 and lines[0].startswith("toy: 3/6 [") and lines[-1].startswith("toy: 6/6 [")
        run_sweep(TOY, TOY.sweep("quick"), store, workers=1, progress=False)
        assert capsys.readouterr().err == ""


def test_progress_lines_name_every_field_without_group_by(tmp_path, capsys):
    from dataclasses import replace

    study = replace(TOY, group_by=None)
    with ResultStore(tmp_path / "r.sqlite") as store:
        run_sweep(study, Sweep("toy", TOY.sweep("quick").configs[:1], seeds=[3]), store, workers=1, progress=True)
    line = capsys.readouterr().err.strip()
    assert "[scale=1.0 size=3 label=a sleep_s=0.0 fail=False seed=3] done in" in line
