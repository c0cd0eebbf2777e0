"""A user's torch callable, named ``module:attr`` or ``path/to/file.py:attr``, as a probed NetworkField."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Callable

import torch

from ..errors import DistillPlanError
from ..nn.runtime import resolve_device
from .network import NetworkField, as_process, check_dtype, check_shape, module_hash
from .parameterisations import check_parameterisation
from .probe import first_line, probe

__all__ = ["load_callable", "resolve_callable"]


def load_callable(spec: str, process, parameterisation: str, shape, network_time: Callable | None = None,
                  device=None, dtype: torch.dtype | None = None) -> NetworkField:
    """``net(x, t_net) -> out`` named by ``spec`` as a :class:`NetworkField`, checked by :func:`.probe.probe`
    (a finite output of the input's shape at both ends of the process, else an error naming ``model``).

    ``process`` is a :class:`.processes.NoiseProcess`, a process name or a config dict.
    """
    process = as_process(process)
    check_parameterisation(parameterisation, process)
    check_shape(shape)
    check_dtype(dtype)
    if device is not None:
        resolve_device(str(device), "device")
    net = resolve_callable(spec)
    field = NetworkField(net, process, parameterisation, shape, network_time, device, dtype, source=f"callable {spec}",
                         content_hash=module_hash(net), details={"spec": spec})
    probe(field)
    return field


def resolve_callable(spec) -> Callable:
    """The object ``attr`` (dotted names allowed) of the module or ``.py`` file before the last ``:``."""
    if not isinstance(spec, str) or ":" not in spec:
        raise DistillPlanError("model", f"must be 'module:attr' or 'file.py:attr', got {spec!r}")
    where, _, attr = spec.rpartition(":")
    if not where or not attr or not all(part.isidentifier() for part in attr.split(".")):
        raise DistillPlanError("model", f"must be 'module:attr' or 'file.py:attr', got {spec!r}")
    module = _import_file(Path(where)) if where.endswith(".py") or "/" in where or "\\" in where else _import(where)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise DistillPlanError("model", f"{where} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        raise DistillPlanError("model", f"{spec} is a class; expose an instance or a function net(x, t)")
    if not callable(obj):
        raise DistillPlanError("model", f"{spec} is a {type(obj).__name__}, not callable as net(x, t)")
    return obj


def _import(name: str):
    try:
        return importlib.import_module(name)
    except Exception as exc:  # the user's module failed to import: one line
        raise DistillPlanError("model", f"cannot import {name}: {type(exc).__name__}: {first_line(exc)}") from None


def _import_file(path: Path):
    path = path.expanduser()
    if not path.is_file():
        raise DistillPlanError("model", f"{path} is not a file")
    resolved = path.resolve()
    name = f"_distillplan_user_{hashlib.sha256(str(resolved).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise DistillPlanError("model", f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise DistillPlanError("model", f"cannot import {path}: {type(exc).__name__}: {first_line(exc)}") from None
    return module
