"""The schedule card: the JSON file a user takes home with a grid, what it is for and every export of it.

A card (``"card_version": 1``) holds:

* ``what_for`` — the use the grid is meant for, and ``evidence`` — the measurement that supports that use;
  the caller states both and no card is made without them;
* ``uses`` (optional) — per use (distilled students, each sampler) whether the measurements support the
  grid for it and the numbers behind that (:func:`distillplan.evidence.describe_uses`). A card whose
  ``uses`` supports no sampler is not exported to a sampler format unless the caller insists;
* ``model`` — ``{"name": path or name, "content_hash": "sha256:<hex>" or null}``; ``parameterisation`` —
  what the network predicts (``"epsilon"``, ``"v"``, ``"x0"``, ``"velocity"``, ...);
* ``process`` — the noise process's ``config()`` (:func:`distillplan.models.make_process` rebuilds it) and
  ``time_convention`` — one sentence on the time the grid is written in;
* ``terminal`` — ``kind`` (``"zero"`` or ``"sigma_min"``: how the stored σ/α and flow-time lists end),
  ``t_min``, ``sigma_min`` = σ/α at ``t_min``, ``sigmas_end_in_zero``;
* ``segments`` — one entry per grid step ``{"index", "t_from", "t_to", ...}`` (the caller may add fields per
  segment), ``profile`` — the profile the grid came from (``kind``, ``N``, ``M``, ``k``, ``quantile``,
  ``A_total``) or null;
* ``grid`` — the process times, noise side → data side (``horizon`` → ``t_min``);
* ``exports`` — ``diffusers_timesteps``, ``diffusers_sigmas``, ``k_diffusion_sigmas``, ``flow_matching_times``,
  each ``{"convention": line, "values": list}``, or ``{"convention", "values": null, "not_representable":
  reason}`` when the export cannot represent the grid. Conventions and terminal handling are those of
  :mod:`.formats`; diffusers ``timesteps`` are exported when the process is a ``DiscreteVP`` or a training
  table ``alphas_bar`` is given.

:func:`read_card` and :func:`card_export` check a card's structure and raise ``DistillPlanError("card",
...)`` on any fault, so a bad card fails before anything is emitted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import DistillPlanError, check_choice
from .formats import (EXPORT_KEYS, TARGETS, TERMINALS, _check_terminal, diffusers_sigmas, diffusers_timesteps,
                      export_convention, flow_matching_times, from_process_grid, kdiffusion_sigmas)

__all__ = ["CARD_VERSION", "CARD_KEYS", "PROFILE_KEYS", "MAX_CARD_BYTES", "make_card", "write_card", "read_card",
           "card_export", "content_hash", "sampling_supported"]

CARD_VERSION = 1
CARD_KEYS = ("card_version", "what_for", "evidence", "model", "parameterisation", "process", "time_convention",
             "terminal", "segments", "profile", "grid", "exports")
"""Every top-level key of a card, in the order written."""
PROFILE_KEYS = ("kind", "N", "M", "k", "quantile", "A_total")
MAX_CARD_BYTES = 64 * 2**20
"""Largest card file :func:`read_card` opens."""
_CHUNK = 2**20


def make_card(times, process, *, what_for: str, evidence: str, model: str | os.PathLike, parameterisation: str,
              profile: dict | None = None, segments: list[dict] | None = None, terminal: str = "zero",
              alphas_bar=None, model_hash: str | None = None, uses: dict | None = None) -> dict:
    """The schedule card of a grid ``times`` in ``process``'s own time (noise side → data side, ending at
    ``process.t_min``); see the module docstring for the fields.

    ``model``: a path (a file or folder, hashed with :func:`content_hash` unless ``model_hash`` is given) or
    a name. ``segments``: optional extra fields per grid step (a list of N dicts). ``terminal``: how the
    stored σ/α and flow-time lists end (:data:`~.formats.TERMINALS`). ``alphas_bar``: the model's discrete
    training table, for diffusers ``timesteps`` of a process that is not a ``DiscreteVP``.
    """
    what_for = _text("what_for", what_for, "the use the grid is meant for")
    evidence = _text("evidence", evidence, "the measurement that supports that use")
    parameterisation = _text("parameterisation", parameterisation, "what the network predicts")
    check_choice("terminal", terminal, TERMINALS)
    if not isinstance(model, (str, os.PathLike)) or not str(model).strip():
        raise DistillPlanError("model", f"must be a model path or name, got {model!r}")
    if model_hash is not None:
        model_hash = _text("model_hash", model_hash, "the model's content hash")
    if profile is not None:
        if not isinstance(profile, dict):
            raise DistillPlanError("profile", f"must be a dict with keys {list(PROFILE_KEYS)}, got {type(profile).__name__}")
        missing = [k for k in PROFILE_KEYS if k not in profile]
        if missing:
            raise DistillPlanError("profile", f"missing keys {missing}; a profile records {list(PROFILE_KEYS)}")
        profile = _plain("profile", profile)
    path = from_process_grid(times, process)
    _check_terminal(path, terminal)
    grid = [float(t) for t in path.source_times]
    steps = [{"index": i, "t_from": grid[i], "t_to": grid[i + 1]} for i in range(path.steps)]
    if segments is not None:
        if not isinstance(segments, (list, tuple)) or len(segments) != path.steps:
            raise DistillPlanError("segments", f"must be a list of {path.steps} dicts, one per grid step")
        for base, extra in zip(steps, segments):
            if not isinstance(extra, dict) or set(extra) & set(base):
                raise DistillPlanError("segments", f"each entry must be a dict without the keys {sorted(base)}")
            base.update(_plain("segments", extra))
    if model_hash is None and Path(model).exists():
        model_hash = content_hash(model)
    sigma_min = path.sigma_min
    card = {
        "card_version": CARD_VERSION,
        "what_for": what_for,
        "evidence": evidence,
        "model": {"name": str(model), "content_hash": model_hash},
        "parameterisation": parameterisation,
        "process": _plain("process", process.config()),
        "time_convention": _time_convention(process),
        "terminal": _terminal_entry(terminal, float(process.t_min), sigma_min),
        "segments": steps,
        "profile": profile,
        "grid": grid,
        "exports": _exports(path, process, terminal, alphas_bar),
    }
    if uses is not None:
        card["uses"] = _plain("uses", uses)
        _check_uses(card["uses"], "")
    return card


def sampling_supported(card: dict) -> bool | None:
    """Whether the card's measurements support its grid for any sampler (None: the card records no uses)."""
    uses = card.get("uses")
    if uses is None:
        return None
    return any(str(u).startswith("sampler:") for u in uses["supported"])


def _check_uses(uses: Any, where: str) -> None:
    if not isinstance(uses, dict) or not isinstance(uses.get("supported"), list) or \
            not all(isinstance(u, str) for u in uses["supported"]):
        raise DistillPlanError("card", where + "uses must be an object with a list 'supported' of use names")


def write_card(card: dict, path: str | os.PathLike) -> Path:
    """Check ``card`` and write it to ``path`` atomically (a temporary file beside it, then a rename)."""
    _check_card(card)
    path = Path(path)
    try:
        text = json.dumps(card, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise DistillPlanError("card", f"is not plain JSON ({exc})") from None
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def read_card(path: str | os.PathLike) -> dict:
    """The card in ``path``; a missing or unreadable file, text that is not JSON, another ``card_version``
    or a missing or malformed entry raise ``DistillPlanError("card", ...)``."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DistillPlanError("card", f"{path}: no such file") from None
    except OSError as exc:
        raise DistillPlanError("card", f"{path}: cannot read ({exc.strerror})") from None
    if path.is_dir():
        raise DistillPlanError("card", f"{path} is a folder, not a card file")
    if size > MAX_CARD_BYTES:
        raise DistillPlanError("card", f"{path} is {size} bytes; a card has at most {MAX_CARD_BYTES}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DistillPlanError("card", f"{path} is not JSON (not UTF-8 text)") from None
    except OSError as exc:
        raise DistillPlanError("card", f"{path}: cannot read ({exc.strerror})") from None
    try:
        card = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise DistillPlanError("card", f"{path} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:
        raise DistillPlanError("card", f"{path} is not JSON ({exc})") from None
    _check_card(card, f"{path}: ")
    return card


def card_export(card: dict, target: str, terminal: str | None = None, unsupported: bool = False) -> list | dict:
    """One export of a card: a list for ``diffusers-timesteps``, ``diffusers-sigmas``, ``k-diffusion`` and
    ``flow-matching``; for ``json`` the whole card (a copy). ``terminal`` (default: the card's own) sets how
    σ/α and flow-time lists end; switching it rewrites their last value only (0, σ_min, or
    σ_min/(1 + σ_min) in flow time) and, for ``json``, the terminal entry and conventions.

    A sampler format of a card whose recorded ``uses`` support no sampler raises ``DistillPlanError("card",
    ...)`` with the measurement, unless ``unsupported`` is set.
    """
    _check_card(card)
    check_choice("target", target, TARGETS)
    if target != "json" and sampling_supported(card) is False and not unsupported:
        lines = card["uses"].get("evidence", {})
        measured = "; ".join(v for k, v in lines.items() if k.startswith("sampler:"))[:400]
        raise DistillPlanError("card", f"the measurements do not support this grid for any sampler ({measured}); "
                                       f"it is for {', '.join(card['uses']['supported']) or 'no measured use'}; "
                                       f"export it for a sampler anyway with --unsupported")
    own = card["terminal"]["kind"]
    terminal = own if terminal is None else check_choice("terminal", terminal, TERMINALS)
    sigma_min = float(card["terminal"]["sigma_min"])
    if terminal == "sigma_min" and sigma_min == 0:
        raise DistillPlanError("terminal", "'sigma_min' ends the lists at the grid's data-side sigma_min > 0, but this "
                                           "card's grid ends in clean data (sigma_min = 0); use 'zero'")
    if target == "json":
        out = copy.deepcopy(card)
        if terminal != own:
            out["terminal"] = _terminal_entry(terminal, float(card["terminal"]["t_min"]), sigma_min)
            for key, entry in out["exports"].items():
                if key != "diffusers_timesteps":
                    entry["convention"] = export_convention(key, terminal)
                    if entry["values"] is not None:
                        entry["values"][-1] = _last(key, terminal, sigma_min)
        return out
    key = EXPORT_KEYS[target]
    entry = card["exports"][key]
    if entry["values"] is None:
        raise DistillPlanError("target", f"{target} cannot represent this card's grid: {entry['not_representable']}")
    values = list(entry["values"])
    if key != "diffusers_timesteps" and terminal != own:
        values[-1] = _last(key, terminal, sigma_min)
    return values


def content_hash(path: str | os.PathLike) -> str:
    """``"sha256:<hex>"`` of a file's bytes, or of a folder: for every file below it in sorted order of its
    relative POSIX path p, the bytes ``p, NUL, size, NUL, content``."""
    path = Path(path)
    h = hashlib.sha256()
    if path.is_dir():
        files = sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())
        for f in files:
            h.update(f"{f.relative_to(path).as_posix()}\0{f.stat().st_size}\0".encode())
            _feed(h, f)
    else:
        _feed(h, path)
    return "sha256:" + h.hexdigest()


def _feed(h, path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise DistillPlanError("model", f"{path}: cannot read to hash ({exc.strerror})") from None


def _exports(path, process, terminal: str, alphas_bar) -> dict:
    discrete = getattr(process, "name", None) == "discrete-vp"
    if discrete and alphas_bar is None:
        ts_line = ("integer training steps (descending), one per sampler step: the grid's process times rounded, "
                   "the data-side end t_min excluded; pass as scheduler.set_timesteps(timesteps=...)")
    else:
        ts_line = export_convention("diffusers_timesteps", terminal)
    out: dict = {"diffusers_timesteps": {"convention": ts_line}}
    if discrete or alphas_bar is not None:
        out["diffusers_timesteps"].update(_attempt(lambda: diffusers_timesteps(path, alphas_bar, terminal)))
    else:
        out["diffusers_timesteps"].update(values=None, not_representable=(
            f"the {process.name} process has no discrete training table; give the model's alphas_bar, or use "
            "diffusers-sigmas"))
    for key, fn in (("diffusers_sigmas", diffusers_sigmas), ("k_diffusion_sigmas", kdiffusion_sigmas),
                    ("flow_matching_times", flow_matching_times)):
        out[key] = {"convention": export_convention(key, terminal), **_attempt(lambda fn=fn: fn(path, terminal))}
    return out


def _attempt(fn) -> dict:
    try:
        return {"values": fn()}
    except DistillPlanError as exc:
        return {"values": None, "not_representable": exc.message}


def _last(key: str, terminal: str, sigma_min: float) -> float:
    if terminal == "zero":
        return 0.0
    return sigma_min / (1.0 + sigma_min) if key == "flow_matching_times" else sigma_min


def _terminal_entry(terminal: str, t_min: float, sigma_min: float) -> dict:
    return {"kind": terminal, "t_min": t_min, "sigma_min": sigma_min, "sigmas_end_in_zero": terminal == "zero",
            "note": "zero: sigma lists end in 0, the last sampler step going straight to clean data (diffusers' "
                    "Euler sigmas= and k-diffusion expect it); sigma_min: they end at sigma_min, for samplers "
                    "that break on a trailing 0. Both hold N + 1 values for N steps; diffusers timesteps never "
                    "include the data-side end."}


def _time_convention(process) -> str:
    line = (f"process time t of the {process.name} process, data side t_min = {float(process.t_min)!r} -> noise "
            f"side horizon = {float(process.horizon)!r}; x_t = alpha(t) x_0 + sigma(t) eps; the grid lists times "
            "from the noise side to the data side, in the order a sampler visits them")
    if getattr(process, "name", None) == "discrete-vp":
        line += "; t is the (fractional) training step k of the model's alphas_bar table, diffusers' timestep round(t)"
    return line


def _text(name: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DistillPlanError(name, f"the card records {what}; give it as a non-empty string, got {value!r}")
    return value.strip()


def _plain(name: str, value: Any) -> Any:
    """``value`` as plain JSON (numpy scalars and arrays converted); NaN, inf and other types raise."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise DistillPlanError(name, "keys must be strings")
        return {k: _plain(name, v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(name, v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DistillPlanError(name, f"contains a non-finite number {value!r}")
        return value
    raise DistillPlanError(name, f"must hold JSON values only, got {type(value).__name__}")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _check_card(card: Any, where: str = "") -> None:
    """Raise ``DistillPlanError("card", ...)`` unless ``card`` has the structure :func:`make_card` writes."""

    def bad(message: str):
        raise DistillPlanError("card", where + message)

    if not isinstance(card, dict):
        bad(f"must be a JSON object, got {type(card).__name__}")
    if "card_version" not in card:
        bad("has no card_version; is this a schedule card?")
    version = card["card_version"]
    if isinstance(version, bool) or version != CARD_VERSION:
        bad(f"card_version {version!r} is not one this distillplan reads (version {CARD_VERSION})")
    missing = [k for k in CARD_KEYS if k not in card]
    if missing:
        bad(f"missing keys {missing}")
    for key in ("what_for", "evidence", "parameterisation", "time_convention"):
        if not isinstance(card[key], str) or not card[key].strip():
            bad(f"{key} must be a non-empty string")
    if not isinstance(card["model"], dict) or not isinstance(card["model"].get("name"), str):
        bad("model must be an object with a name")
    if not isinstance(card["process"], dict) or not isinstance(card["process"].get("process"), str):
        bad("process must be a process config object with a 'process' name")
    term = card["terminal"]
    if not isinstance(term, dict) or term.get("kind") not in TERMINALS:
        bad(f"terminal must be an object whose kind is one of {list(TERMINALS)}")
    if not _number(term.get("sigma_min")) or term["sigma_min"] < 0 or not _number(term.get("t_min")):
        bad("terminal needs a number t_min and a number sigma_min >= 0")
    grid = card["grid"]
    if not isinstance(grid, list) or len(grid) < 2 or not all(_number(t) for t in grid) or \
            not all(a > b for a, b in zip(grid, grid[1:])):
        bad("grid must list at least 2 strictly decreasing numbers (noise side -> data side)")
    steps = len(grid) - 1
    if not isinstance(card["segments"], list) or len(card["segments"]) != steps:
        bad(f"segments must list one entry per grid step ({steps})")
    profile = card["profile"]
    if profile is not None and (not isinstance(profile, dict) or any(k not in profile for k in PROFILE_KEYS)):
        bad(f"profile must be null or an object with keys {list(PROFILE_KEYS)}")
    if "uses" in card:
        _check_uses(card["uses"], where)
    exports = card["exports"]
    if not isinstance(exports, dict):
        bad("exports must be an object")
    for key in EXPORT_KEYS.values():
        entry = exports.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("convention"), str) or "values" not in entry:
            bad(f"exports.{key} must be an object with a convention and values")
        values = entry["values"]
        if values is None:
            if not isinstance(entry.get("not_representable"), str):
                bad(f"exports.{key} has no values and no not_representable reason")
            continue
        length = steps if key == "diffusers_timesteps" else steps + 1
        if not isinstance(values, list) or len(values) != length or not all(_number(v) for v in values) or \
                not all(a > b for a, b in zip(values, values[1:])):
            bad(f"exports.{key} must list {length} strictly decreasing numbers")
        if key == "diffusers_timesteps" and not all(isinstance(v, int) and v >= 0 for v in values):
            bad("exports.diffusers_timesteps must be integers >= 0")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
