"""The reproducible studies, by name; each study module is imported only when it is asked for.

A study module defines a module-level :class:`distillplan.runner.Study` and is listed in
:data:`STUDIES` as ``"name": "module:attribute"``, e.g.
``"stability-grid": "distillplan.studies.stability_grid:STUDY"``.
"""

from __future__ import annotations

import importlib
from typing import Union

from ..errors import DistillPlanError
from ..runner.study import Study

__all__ = ["STUDIES", "get_study", "register", "study_names"]

STUDIES: dict[str, str] = {
    "latents": "distillplan.studies.latents:STUDY",
    "linear-sweep": "distillplan.studies.linear_sweep:STUDY",
    "lipschitz-mismatch": "distillplan.studies.lipschitz_mismatch:STUDY",
    "mixture-merging": "distillplan.studies.mixture_merging:STUDY",
    "residual-depth": "distillplan.studies.residual_depth:STUDY",
    "score-approx": "distillplan.studies.score_approx:STUDY",
    "stability-grid": "distillplan.studies.stability_grid:STUDY",
    "trained-linear": "distillplan.studies.trained_linear:STUDY",
}
"""Study name -> ``"module:attribute"`` of its :class:`Study`."""

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
