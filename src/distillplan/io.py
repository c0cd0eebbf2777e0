"""Reading user files with errors that name the argument."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import DistillPlanError

__all__ = ["read_array", "read_variances"]


def read_array(path, argument: str) -> np.ndarray:
    """Load a numeric array from .npy, .txt or .csv (comma/whitespace separated)."""
    p = Path(path)
    if not p.is_file():
        raise DistillPlanError(argument, f"no such file: {p}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        elif suffix in (".txt", ".csv"):
            arr = np.loadtxt(p, delimiter="," if suffix == ".csv" else None, dtype=np.float64, ndmin=1)
        else:
            raise DistillPlanError(argument, f"unsupported file type {suffix or '(none)'}; use .npy, .txt or .csv")
    except DistillPlanError:
        raise
    except Exception as exc:  # numpy raises many types for malformed files
        raise DistillPlanError(argument, f"cannot read {p.name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise DistillPlanError(argument, f"{p.name} does not hold numbers") from None


def read_variances(path) -> np.ndarray:
    """One λ_i per entry (any shape is flattened); every entry finite and > 0."""
    arr = read_array(path, "variances").ravel()
    if arr.size == 0:
        raise DistillPlanError("variances", "the file holds no values")
    if not np.all(np.isfinite(arr)):
        raise DistillPlanError("variances", "the file contains NaN or infinite values")
    if np.any(arr <= 0):
        raise DistillPlanError("variances", f"variances must be > 0, got min {arr.min():g}")
    return arr
