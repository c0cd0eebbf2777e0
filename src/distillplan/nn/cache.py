"""A weights cache on local disk: trained models keyed by the sha256 of what produced them.

Root: ``cache_dir`` when given, else ``$DISTILLPLAN_CACHE``, else ``~/.cache/distillplan``. Entries are
``<root>/<kind>/<key[:32]>.pt``, written to a temporary file and renamed, so a crash never leaves a
half-written entry and two processes never read one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

__all__ = ["CACHE_ENV", "default_cache_dir", "cache_file", "save_state", "load_state"]

CACHE_ENV = "DISTILLPLAN_CACHE"


def default_cache_dir() -> Path:
    """``$DISTILLPLAN_CACHE`` if set, else ``~/.cache/distillplan``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "distillplan"


def cache_file(cache_dir, kind: str, payload: dict) -> tuple[str, Path]:
    """``(key, path)`` of a cached artefact: key = sha256 of ``kind`` and the JSON ``payload``."""
    key = hashlib.sha256(json.dumps([kind, payload], sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return key, root / kind / f"{key[:32]}.pt"


def save_state(path: Path, obj: dict) -> None:
    """``torch.save`` to a temporary file, then rename (a crash never leaves a half-written cache entry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_state(path: Path, device) -> dict | None:
    """The cached dict, or None when missing or unreadable (then it is retrained and overwritten)."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception:  # noqa: BLE001 - a corrupt cache entry is retrained
        return None
