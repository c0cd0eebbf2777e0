import pytest

from distillplan import experiments
from distillplan.errors import DistillPlanError
from tests.runner.toy_study import TOY


@pytest.fixture(autouse=True)
def clean_registry():
    saved = dict(experiments.STUDIES)
    yield
    experiments.STUDIES.clear()
    experiments.STUDIES.update(saved)
    experiments._REGISTERED.clear()


def test_lazy_registration_by_module_path():
    experiments.register("toy", "tests.runner.toy_study:TOY")
    assert experiments.get_study("toy") is TOY
    assert "toy" in experiments.study_names()


def test_registration_by_object():
    experiments.register("toy", TOY)
    assert experiments.get_study("toy") is TOY
    with pytest.raises(DistillPlanError):
        experiments.register("other", TOY)
    with pytest.raises(DistillPlanError):
        experiments.register("other", "no-colon")


def test_unknown_study_lists_the_choices():
    experiments.register("toy", TOY)
    with pytest.raises(DistillPlanError) as info:
        experiments.get_study("nope")
    assert info.value.argument == "study" and "'toy'" in str(info.value)


def test_unknown_preset():
    with pytest.raises(DistillPlanError) as info:
        TOY.sweep("huge")
    assert info.value.argument == "preset" and "quick" in str(info.value)
