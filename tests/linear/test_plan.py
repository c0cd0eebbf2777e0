import json
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillplan import DistillPlanError, VPSchedule
from distillplan.linear import (LinearTeacher, MergeModel, Plan, boot, consistency, count_plans, enumerate_plans,
                                evaluate_plan, node_values, progressive)


@pytest.mark.parametrize("T, n", [(2, 1), (3, 3), (4, 11), (5, 45), (6, 197), (7, 903), (8, 4279)])
def test_little_schroeder_numbers(T, n):
    assert count_plans(T) == n


def test_structure():
    p = Plan.parse("[[5,4],[[3,2],1]]", steps=5)
    assert (p.start, p.end, p.stages, p.depth) == (5, 0, 4, 3)
    assert p.leaves() == [5, 4, 3, 2, 1]
    assert [n.to_text() for n in p.nodes()] == ["[5,4]", "[3,2]", "[[3,2],1]", "[[5,4],[[3,2],1]]"]


@settings(max_examples=60, deadline=None)
@given(T=st.integers(2, 6), data=st.data())
def test_round_trips(T, data):
    plans = list(enumerate_plans(T))
    p = plans[data.draw(st.integers(0, len(plans) - 1))]
    assert Plan.parse(p.to_text(), steps=T) == p
    assert Plan.from_json(p.to_json()) == p
    assert Plan.from_nested(json.loads(json.dumps(p.to_nested())), steps=T) == p
    assert p.leaves() == list(range(T, 0, -1))
    assert sum(1 for _ in p.nodes()) == p.stages


@pytest.mark.parametrize("text, match", [
    ("[[4,3],[1]]", ">= 2 children"),
    ("[[4,3],1]", "contiguous"),
    ("[4,2,1]", "contiguous"),
    ("[1,0]", "t >= 1"),
    ("[[4,3],", "malformed"),
    ("hello", "bracket form"),
    ("5", "root must be a list"),
])
def test_rejects_malformed(text, match):
    with pytest.raises(DistillPlanError, match=match) as err:
        Plan.parse(text)
    assert err.value.argument == "plan"


def test_coverage_of_steps():
    with pytest.raises(DistillPlanError, match="cover the teacher steps 5 -> 0"):
        Plan.parse("[[4,3],2,1]", steps=5)
    with pytest.raises(DistillPlanError, match="JSON"):
        Plan.from_json("{not json")
    with pytest.raises(DistillPlanError, match='"plan"'):
        Plan.from_json('{"steps": 3}')


def test_arc_diagram_writes(tmp_path):
    from distillplan.plots import save_arc_diagram

    path = save_arc_diagram(boot(12), tmp_path / "boot.png")
    assert path.stat().st_size > 5000


@pytest.mark.parametrize("build", [boot, consistency, progressive], ids=lambda f: f.__name__)
def test_plans_at_T_4096_need_no_recursion(build):
    """Built, evaluated, written and read back under Python's default recursion limit."""
    assert sys.getrecursionlimit() <= 1000
    p = build(4096)
    assert p.stages == 4095 and p.start == 4096 and p.end == 0
    assert Plan.parse(p.to_text()) == p
    doc = json.loads(p.to_json())
    assert Plan.from_merges(doc["merges"], 4096) == p
    assert Plan.from_json(p.to_json()) == p
    for merge in doc["merges"]:
        assert len(merge) >= 3 and all(a > b for a, b in zip(merge, merge[1:]))
    teacher = LinearTeacher(VPSchedule.cosine(4096), [0.5, 2.0])
    assert np.isfinite(evaluate_plan(p, teacher, MergeModel(6.4)).w2)
    assert len(node_values(p, teacher, MergeModel(6.4))) == p.stages


def test_merges_are_in_training_order():
    """Children before parents: every merge's inner boundaries were produced by earlier merges or are leaves."""
    p = Plan.parse("[[4,3],[2,1]]")
    assert p.merges() == [[4, 3, 2], [2, 1, 0], [4, 2, 0]]
    assert Plan.from_merges(p.merges()) == p
