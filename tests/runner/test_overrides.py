from dataclasses import dataclass
from typing import Literal, Optional

import pytest

from distillplan.errors import DistillPlanError
from distillplan.runner import parse_overrides


@dataclass(frozen=True)
class Cfg:
    dataset: str = "gmm"
    steps: int = 4
    lr: float = 0.1
    exact: bool = False
    width: Optional[int] = None
    grid: tuple[float, ...] = (0.0, 1.0)
    names: list[str] = None
    kind: Literal["relu", "requ"] = "relu"
    extra: dict = None


def test_values_take_the_field_types():
    out = parse_overrides(
        ["dataset=123", "steps=8", "lr=1e-3", "exact=true", "width=none", "grid=0,0.5,1",
         "names=[\"a\",\"b\"]", "kind=requ", "extra={\"k\": 1}"],
        Cfg,
    )
    assert out == {"dataset": "123", "steps": 8, "lr": 1e-3, "exact": True, "width": None,
                   "grid": (0.0, 0.5, 1.0), "names": ["a", "b"], "kind": "requ", "extra": {"k": 1}}
    assert parse_overrides(["width=16"], Cfg) == {"width": 16}
    assert parse_overrides([], Cfg) == {}


@pytest.mark.parametrize(
    "item, argument",
    [
        ("steps", "--set"),
        ("=3", "--set"),
        ("depth=3", "--set"),
        ("steps=three", "--set steps"),
        ("lr=fast", "--set lr"),
        ("exact=maybe", "--set exact"),
        ("width=wide", "--set width"),
        ("kind=tanh", "--set kind"),
        ("grid=[0, x]", "--set grid"),
    ],
)
def test_bad_overrides_name_the_key(item, argument):
    with pytest.raises(DistillPlanError) as info:
        parse_overrides([item], Cfg)
    assert info.value.argument == argument


def test_a_key_given_twice_is_an_error():
    with pytest.raises(DistillPlanError) as info:
        parse_overrides(["steps=1", "steps=2"], Cfg)
    assert info.value.argument == "--set steps"
