import pytest

from distillplan import DistillPlanError
from distillplan.linear import boot, canonical_plan, consistency, progressive, vanilla


def test_shapes_T4():
    assert vanilla(4).to_text() == "[4,3,2,1]"
    assert progressive(4).to_text() == "[[4,3],[2,1]]"
    assert boot(4).to_text() == "[[[4,3],2],1]"
    assert consistency(4).to_text() == "[4,[3,[2,1]]]"


def test_progressive_larger_half_on_noise_side():
    assert progressive(5).to_text() == "[[[5,4],3],[2,1]]"
    assert progressive(3).to_text() == "[[3,2],1]"


@pytest.mark.parametrize("T", [2, 3, 7, 32, 100])
def test_cover_and_stages(T):
    assert vanilla(T).stages == 1
    for build in (progressive, boot, consistency):
        p = build(T).validate_steps(T)
        assert p.stages == T - 1  # binary trees
    assert boot(T).leaves() == list(range(T, 0, -1))


def test_errors():
    with pytest.raises(DistillPlanError, match="strategy"):
        canonical_plan("reflow", 8)
    with pytest.raises(DistillPlanError, match="steps"):
        boot(1)
