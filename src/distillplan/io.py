"""Reading user files and checking output paths, with errors that name the argument.

Output paths are checked before any work starts, by one policy for every command:

* an output **folder** (``--out``) may exist (then it must be a writable folder) or not (then it is
  created later, with its parents, so its nearest existing ancestor must be a writable folder);
* an output **file** (``--draw``, ``report --out``) needs an existing writable parent folder, must
  not be a folder itself, and must have one of the suffixes the writer supports.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .errors import DistillPlanError

__all__ = ["read_array", "read_vector", "read_variances", "check_input_file", "check_output_dir",
           "check_output_file", "ARRAY_SUFFIXES", "FIGURE_SUFFIXES"]

ARRAY_SUFFIXES = (".npy", ".txt", ".csv")
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
"""Figure formats matplotlib writes with the Agg backend and Pillow alone (no LaTeX, no Ghostscript)."""


def check_input_file(argument: str, path) -> Path:
    """``path`` as a Path, or raise unless it is an existing, readable regular file (a folder is named as such)."""
    p = Path(path)
    if p.is_dir():
        raise DistillPlanError(argument, f"{p} is a folder, not a file")
    if not p.exists():
        raise DistillPlanError(argument, f"no such file: {p}")
    if not p.is_file():
        raise DistillPlanError(argument, f"{p} is not a regular file")
    if not os.access(p, os.R_OK):
        raise DistillPlanError(argument, f"cannot read {p}: permission denied")
    return p


def read_array(path, argument: str) -> np.ndarray:
    """A finite, non-empty float64 array from .npy, .txt or .csv (comma/whitespace separated).

    Rejects folders, missing or unreadable files, .npz archives, non-numeric contents (text, object,
    complex or boolean arrays), empty files and NaN/infinite entries, each naming ``argument``.
    """
    p = check_input_file(argument, path)
    suffix = p.suffix.lower()
    if suffix not in ARRAY_SUFFIXES:
        raise DistillPlanError(argument, f"unsupported file type {suffix or '(none)'}; use .npy, .txt or .csv")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns on an empty file; emptiness is an error below
            if suffix == ".npy":
                arr = np.load(p, allow_pickle=False)
            else:
                arr = np.loadtxt(p, delimiter="," if suffix == ".csv" else None, dtype=np.float64, ndmin=1)
    except Exception as exc:  # numpy raises many types for malformed files (ValueError, EOFError, ...)
        raise DistillPlanError(argument, f"cannot read {p.name}: {_first_line(exc)}") from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise DistillPlanError(argument, f"{p.name} is an .npz archive; save one array with numpy.save")
    if arr.dtype.kind not in "iuf":
        raise DistillPlanError(argument, f"{p.name} does not hold real numbers (dtype {arr.dtype})")
    with np.errstate(over="ignore"):
        arr = arr.astype(np.float64)
    if arr.size == 0:
        raise DistillPlanError(argument, f"{p.name} holds no values")
    if not np.all(np.isfinite(arr)):
        raise DistillPlanError(argument, f"{p.name} contains NaN or infinite values")
    return arr


def read_vector(path, argument: str) -> np.ndarray:
    """A 1-d array from a file: a flat list, or a single row or column of a table (other shapes are rejected)."""
    arr = read_array(path, argument)
    if arr.ndim == 0:
        return arr.reshape(1)
    if arr.ndim == 1 or (arr.ndim == 2 and 1 in arr.shape):
        return arr.ravel()
    raise DistillPlanError(argument, f"must hold one row or one column of values, got an array of shape {arr.shape}")


def read_variances(path) -> np.ndarray:
    """One λ_i per entry of a 1-d file (see :func:`read_vector`), each validated by ``check_variances``."""
    from .linear.teacher import check_variances

    return check_variances(read_vector(path, "variances"), "variances")


def check_output_dir(argument: str, path) -> Path:
    """``path`` as a Path, or raise unless it is a writable folder or can be created as one (with its parents).

    Creates nothing: the command creates the folder when it writes into it.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise DistillPlanError(argument, f"{p} is a file, not a folder")
    _check_writable_ancestor(argument, p)
    return p


def check_output_file(argument: str, path, suffixes: tuple[str, ...]) -> Path:
    """``path`` as a Path, or raise unless it can be written as a file of one of ``suffixes``.

    The parent folder must already exist and be writable; an existing file must be writable.
    """
    p = Path(path)
    if p.is_dir():
        raise DistillPlanError(argument, f"{p} is a folder, not a file")
    suffix = p.suffix.lower()
    if suffix not in suffixes:
        raise DistillPlanError(argument, f"unsupported file type {suffix or '(none)'} for {p.name}; "
                                         f"use one of {', '.join(suffixes)}")
    parent = p.parent
    if not parent.exists():
        raise DistillPlanError(argument, f"the folder {parent} does not exist")
    if not parent.is_dir():
        raise DistillPlanError(argument, f"{parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise DistillPlanError(argument, f"cannot write {p}: permission denied")
    return p


def _check_writable_ancestor(argument: str, p: Path) -> None:
    """Raise unless the nearest existing ancestor of ``p`` (or ``p`` itself) is a writable folder."""
    existing = p
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise DistillPlanError(argument, f"{existing} is a file, so the folder {p} cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DistillPlanError(argument, f"cannot write in {existing}: permission denied")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
