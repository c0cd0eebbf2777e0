from dataclasses import dataclass

import pytest

from distillplan.errors import DistillPlanError
from distillplan.runner import Sweep, canonical_json, grid, task_key
from tests.runner.toy_study import ToyConfig


def test_grid_is_the_cartesian_product_first_axis_outermost():
    configs = grid(ToyConfig, base={"size": 5}, scale=[1.0, 2.0], label=["x", "y"])
    assert [(c.scale, c.label) for c in configs] == [(1.0, "x"), (1.0, "y"), (2.0, "x"), (2.0, "y")]
    assert all(c.size == 5 for c in configs)


def test_grid_accepts_a_config_as_base_and_rejects_unknown_fields():
    assert grid(ToyConfig, base=ToyConfig(size=7), scale=[3.0]) == [ToyConfig(scale=3.0, size=7)]
    with pytest.raises(DistillPlanError) as info:
        grid(ToyConfig, nope=[1])
    assert info.value.argument == "axes"
    with pytest.raises(DistillPlanError):
        grid(ToyConfig, scale=[])


def test_task_keys_are_stable_and_distinct():
    a = task_key("toy", ToyConfig(), 0)
    assert a == task_key("toy", ToyConfig(), 0)
    assert len({a, task_key("toy", ToyConfig(), 1), task_key("other", ToyConfig(), 0),
                task_key("toy", ToyConfig(scale=1.5), 0)}) == 4
    assert canonical_json(ToyConfig()) == '{"fail":false,"label":"a","scale":1.0,"size":3,"sleep_s":0.0}'


def test_sweep_tasks_cover_configs_times_seeds_without_duplicates():
    sweep = Sweep("toy", [ToyConfig(), ToyConfig(scale=2.0), ToyConfig()], seeds=[0, 1])
    tasks = list(sweep.tasks())
    assert len(tasks) == len(sweep) == 4
    assert [(t.config.scale, t.seed) for t in tasks] == [(1.0, 0), (1.0, 1), (2.0, 0), (2.0, 1)]
    assert all(t.study == "toy" for t in tasks)


def test_with_overrides_and_with_seeds():
    sweep = Sweep("toy", grid(ToyConfig, scale=[1.0, 2.0]), seeds=[0]).with_overrides({"label": "z"})
    assert {c.label for c in sweep.configs} == {"z"}
    assert sweep.with_seeds([4, 5]).seeds == (4, 5)
    with pytest.raises(DistillPlanError) as info:
        sweep.with_overrides({"bogus": 1})
    assert info.value.argument == "set"


@pytest.mark.parametrize("seeds", [[], [-1], [1, 1], [0.5], "012", [True]])
def test_bad_seeds(seeds):
    with pytest.raises(DistillPlanError) as info:
        Sweep("toy", [ToyConfig()], seeds=seeds)
    assert info.value.argument == "seeds"


def test_configs_must_be_json_dataclasses_of_one_type():
    @dataclass(frozen=True)
    class Other:
        x: object = None

    with pytest.raises(DistillPlanError):
        Sweep("toy", [], seeds=[0])
    with pytest.raises(DistillPlanError):
        Sweep("toy", [ToyConfig(), Other()], seeds=[0])
    with pytest.raises(DistillPlanError) as info:
        Sweep("toy", [Other(x=object())], seeds=[0])
    assert info.value.argument == "config"
    with pytest.raises(DistillPlanError):
        Sweep("toy", [{"scale": 1.0}], seeds=[0])
