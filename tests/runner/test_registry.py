import pytest

from distillplan import studies
from distillplan.errors import DistillPlanError
from tests.runner.toy_study import TOY


@pytest.fixture(autouse=True)
def clean_registry():
    yield
    for name in ("toy", "other"):
        studies.unregister(name)


def test_lazy_registration_by_module_path():
    studies.register("toy", "tests.runner.toy_study:TOY")
    assert studies.get_study("toy") is TOY
    assert "toy" in studies.study_names()


def test_registration_by_object():
    studies.register("toy", TOY)
    assert studies.get_study("toy") is TOY
    with pytest.raises(DistillPlanError):
        studies.register("other", TOY)
    with pytest.raises(DistillPlanError):
        studies.register("other", "no-colon")


def test_unknown_study_lists_the_choices():
    studies.register("toy", TOY)
    with pytest.raises(DistillPlanError) as info:
        studies.get_study("nope")
    assert info.value.argument == "study" and "'toy'" in str(info.value)


def test_unknown_preset():
    with pytest.raises(DistillPlanError) as info:
        TOY.sweep("huge")
    assert info.value.argument == "preset" and "quick" in str(info.value)
