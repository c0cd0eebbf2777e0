"""The reproducible studies, by name; each study module is imported only when it is asked for.

A study module defines a module-level :class:`distillplan.runner.Study` (its config built from the blocks of
:mod:`._kit`) and is listed in :data:`STUDIES` as ``"name": "module:attribute"``, e.g.
``"stability-grid": "distillplan.studies.stability_grid:STUDY"``. :func:`run_study` runs one by name::

    from distillplan.studies import run_study
    result = run_study("stability-grid", "out", preset="quick", overrides={"total_train_steps": 2000})
    print(result.table)
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, Union

from ..errors import DistillPlanError
from ..runner.study import Study
from ._kit import field_ranges

__all__ = ["STUDIES", "get_study", "register", "unregister", "study_names", "run_study", "describe_fields", "field_ranges"]

STUDIES: dict[str, str] = {
    "latents": "distillplan.studies.latents:STUDY",
    "linear-sweep": "distillplan.studies.linear_sweep:STUDY",
    "lipschitz-mismatch": "distillplan.studies.lipschitz_mismatch:STUDY",
    "mixture-merging": "distillplan.studies.mixture_merging:STUDY",
    "model-grids": "distillplan.studies.model_grids:STUDY",
    "residual-depth": "distillplan.studies.residual_depth:STUDY",
    "score-approx": "distillplan.studies.score_approx:STUDY",
    "stability-grid": "distillplan.studies.stability_grid:STUDY",
    "trained-linear": "distillplan.studies.trained_linear:STUDY",
}
"""Study name -> ``"module:attribute"`` of its :class:`Study`."""

_BUILT_IN = dict(STUDIES)

_REGISTERED: dict[str, Study] = {}  # studies registered as objects (tests, plugins)


def register(name: str, target: Union[str, Study]) -> None:
    """Add a study: ``target`` is ``"module:attribute"`` or a :class:`Study` named ``name``.

    An object registered this way is visible to this process only; worker processes need only
    its ``run`` function, which they import by module name.
    """
    if isinstance(target, Study):
        if target.name != name:
            raise DistillPlanError("name", f"study object is named {target.name!r}, not {name!r}")
        _REGISTERED[name] = target
        STUDIES.pop(name, None)
        return
    if not isinstance(target, str) or target.count(":") != 1:
        raise DistillPlanError("target", f"must be 'module:attribute' or a Study, got {target!r}")
    STUDIES[name] = target
    _REGISTERED.pop(name, None)


def study_names() -> list[str]:
    """Every registered study name, sorted."""
    return sorted({*STUDIES, *_REGISTERED})


def get_study(name: str) -> Study:
    """The :class:`Study` called ``name`` (imports its module on first use)."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    target = STUDIES.get(name)
    if target is None:
        raise DistillPlanError("study", f"unknown study {name!r}; choose from {study_names()}")
    module_name, attribute = target.split(":")
    study = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(study, Study):
        raise TypeError(f"{target} is a {type(study).__name__}, not a Study")
    if study.name != name:
        raise TypeError(f"{target} is named {study.name!r}, registered as {name!r}")
    return study


def unregister(name: str) -> None:
    """Forget a study registered with :func:`register` (the built-in studies come back on their own)."""
    _REGISTERED.pop(name, None)
    if name not in _BUILT_IN:
        STUDIES.pop(name, None)
    else:
        STUDIES[name] = _BUILT_IN[name]


def run_study(study: str | Study, out: str | Path, **options: Any):
    """Run the study called ``study`` (or a :class:`Study`) into ``out``: :func:`distillplan.runner.run_study`
    with the same keyword options (preset, sweep, seeds, overrides, engine, workers, ...)."""
    from ..runner.run import run_study as run

    return run(get_study(study) if isinstance(study, str) else study, out, **options)


def describe_fields(study: str | Study) -> str:
    """One line per config field of a study: name, default and stated range (``distillplan study NAME --fields``)."""
    spec = get_study(study) if isinstance(study, str) else study
    ranges = field_ranges(spec.config_type)
    lines = [f"{spec.name} config fields (--set KEY=VALUE):"]
    owner = {name: depth for depth, cls in reversed(list(enumerate(spec.config_type.__mro__)))
             for name in getattr(cls, "__annotations__", {})}
    for item in sorted(dataclasses.fields(spec.config_type), key=lambda f: owner.get(f.name, 0)):
        default = "none" if item.default is None else item.default
        what = ranges.get(item.name)
        lines.append(f"  {item.name} = {default}" + (f"    in {what}" if what is not None else ""))
    return "\n".join(lines)
