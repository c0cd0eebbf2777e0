"""The ``dataset`` spec string (``--set dataset=...``): one parser, one loader entry point."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DistillPlanError
from .arrays import load_npy
from .celeba import load_celeba
from .dataset import Dataset
from .digits import load_digits
from .folder import load_folder
from .patches import load_patches

__all__ = ["DatasetSpec", "parse_dataset", "load_dataset", "DATASET_KINDS", "SPEC_HELP"]

DATASET_KINDS = ("digits", "patches", "folder", "npy", "celeba")
SPEC_HELP = "digits, patches[:SIZE], folder:PATH, npy:PATH or celeba:ROOT"
_NEEDS_PATH = ("folder", "npy", "celeba")


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed spec: ``kind`` (one of :data:`DATASET_KINDS`) and its argument (path or patch size)."""

    kind: str
    path: str | None = None
    patch_size: int = 8

    def __str__(self) -> str:
        if self.kind == "patches":
            return f"patches:{self.patch_size}"
        return self.kind if self.path is None else f"{self.kind}:{self.path}"


def parse_dataset(spec) -> DatasetSpec:
    """Parse ``digits | patches[:SIZE] | folder:PATH | npy:PATH | celeba:ROOT`` (syntax only: nothing
    is read). Everything after the first ``:`` is the argument, so paths may contain colons."""
    if not isinstance(spec, str) or not spec.strip():
        raise DistillPlanError("dataset", f"must be one of {SPEC_HELP}, got {spec!r}")
    kind, sep, arg = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in DATASET_KINDS:
        raise DistillPlanError("dataset", f"unknown dataset {spec!r}; use {SPEC_HELP}")
    if kind == "digits":
        if sep:
            raise DistillPlanError("dataset", f"'digits' takes no argument, got {spec!r}")
        return DatasetSpec("digits")
    if kind == "patches":
        if not sep:
            return DatasetSpec("patches")
        if not arg.strip().isdigit() or not 2 <= int(arg) <= 512:
            raise DistillPlanError("dataset", f"patches:SIZE needs an integer size in 2..512, got {spec!r}")
        return DatasetSpec("patches", patch_size=int(arg))
    if not arg.strip():
        raise DistillPlanError("dataset", f"{kind!r} needs a path: {kind}:PATH, got {spec!r}")
    return DatasetSpec(kind, path=arg.strip())


def load_dataset(spec, *, image_size: int = 64, limit: int | None = None, cache_dir=None) -> Dataset:
    """Load the dataset a spec names. ``limit`` keeps the first N items (patches: draws N patches);
    ``image_size`` and ``cache_dir`` are used by CelebA only. Bad input raises
    :class:`~distillplan.errors.DistillPlanError` naming ``dataset``."""
    parsed = spec if isinstance(spec, DatasetSpec) else parse_dataset(spec)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise DistillPlanError("limit", f"must be a non-negative integer (0 = all), got {limit!r}")
    limit = limit or None
    if parsed.kind == "digits":
        return load_digits(limit)
    if parsed.kind == "patches":
        return load_patches(parsed.patch_size, limit)
    if parsed.kind == "folder":
        return load_folder(parsed.path, limit)
    if parsed.kind == "npy":
        return load_npy(parsed.path, limit)
    return load_celeba(parsed.path, size=image_size, limit=limit, cache_dir=cache_dir)
