"""The one exception type users see for bad input."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = ["DistillPlanError", "check_finite_array", "check_positive", "check_nonnegative", "check_range",
           "check_int_at_least", "check_int_range", "check_seed", "check_choice", "check_device", "check_fields",
           "SEED_MAX"]

SEED_MAX = 2**32 - 1
"""Largest seed every generator in use accepts (numpy, torch and scikit-learn's ``random_state``)."""
_TINY = float(np.finfo(np.float64).tiny)  # smallest normal float64; below it values lose precision


class DistillPlanError(ValueError):
    """Bad input, reported with the name of the offending argument.

    The CLI prints ``error: <message>`` on one line and exits with status 2.
    """

    def __init__(self, argument: str, message: str):
        self.argument = argument
        self.message = message
        super().__init__(f"{argument}: {message}")

    def __reduce__(self):  # picklable across process pools and Dask workers
        return (type(self), (self.argument, self.message))


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as float, or raise if it is not a finite, normal (not subnormal) number > 0."""
    v = _as_float(name, value)
    if not v > 0:
        raise DistillPlanError(name, f"must be > 0, got {value!r}")
    if v < _TINY:
        raise DistillPlanError(name, f"is subnormal ({value!r} is below {_TINY:.3g}), too small to compute with")
    return v


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as float, or raise if it is not a finite number >= 0."""
    v = _as_float(name, value)
    if not v >= 0:
        raise DistillPlanError(name, f"must be >= 0, got {value!r}")
    return v


def check_range(name: str, value: Any, low: float, high: float) -> float:
    """Return ``value`` as float, or raise if it is not a finite number in ``[low, high]``."""
    v = _as_float(name, value)
    if not low <= v <= high:
        raise DistillPlanError(name, f"must be in [{low:g}, {high:g}], got {value!r}")
    return v


def check_int_at_least(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise DistillPlanError(name, f"must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise DistillPlanError(name, f"must be an integer >= {minimum}, got {value}")
    return int(value)


def check_int_range(name: str, value: Any, minimum: int, maximum: int) -> int:
    """Return ``value`` as int, or raise if it is not an integer in ``minimum..maximum``."""
    v = check_int_at_least(name, value, minimum)
    if v > maximum:
        raise DistillPlanError(name, f"must be an integer in {minimum}..{maximum}, got {v}")
    return v


def check_seed(name: str, value: Any) -> int:
    """Return ``value`` as int, or raise if it is not a seed in ``0..SEED_MAX``."""
    return check_int_range(name, value, 0, SEED_MAX)


def check_choice(name: str, value: Any, choices: Any, what: str = "") -> Any:
    """Return ``value``, or raise if it is not one of ``choices`` (``what`` names the kind of thing)."""
    options = list(choices)
    if value not in options:
        label = f"unknown {what} {value!r}" if what else f"got {value!r}"
        raise DistillPlanError(name, f"{label}; choose from {options}")
    return value


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:[0-9]+)?")


def check_device(name: str, value: Any) -> str:
    """Return ``value``, or raise if it is not a device name: ``auto``, ``cpu``, ``cuda``, ``cuda:<i>`` or ``mps``.

    Only the spelling is checked here; :func:`distillplan.nn.runtime.resolve_device` checks availability.
    """
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        raise DistillPlanError(name, f"must be auto, cpu, cuda, cuda:<index> or mps, got {value!r}")
    return value


def check_fields(obj: Any, *, at_least: dict[str, int] | None = None, positive: tuple[str, ...] = (),
                 nonnegative: tuple[str, ...] = ()) -> None:
    """Validate attributes of a config object: integers ``>=`` a minimum, floats ``> 0`` and ``>= 0``.

    Each failing attribute raises :class:`DistillPlanError` under its own name.
    """
    for field, minimum in (at_least or {}).items():
        check_int_at_least(field, getattr(obj, field), minimum)
    for field in positive:
        check_positive(field, getattr(obj, field))
    for field in nonnegative:
        check_nonnegative(field, getattr(obj, field))


def check_finite_array(name: str, values: Any, *, ndim: int | None = 1, positive: bool = False) -> np.ndarray:
    """Return ``values`` as a float64 array, or raise if it has NaN/inf, wrong rank, or is empty."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DistillPlanError(name, f"must be numeric ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        if ndim == 1 and arr.ndim == 0:
            arr = arr.reshape(1)
        else:
            raise DistillPlanError(name, f"must be a {ndim}-d array, got shape {arr.shape}")
    if arr.size == 0:
        raise DistillPlanError(name, "must not be empty")
    if not np.all(np.isfinite(arr)):
        raise DistillPlanError(name, "contains NaN or infinite values")
    if positive and not np.all(arr > 0):
        raise DistillPlanError(name, f"every entry must be > 0 (smallest is {arr.min():g})")
    return arr


def _as_float(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DistillPlanError(name, f"must be a number, got {value!r}") from None
    if math.isnan(v) or math.isinf(v):
        raise DistillPlanError(name, f"must be finite, got {value!r}")
    return v
