"""Which grid serves which use: the measurements of the ``model-grids`` study, packaged with the library.

A grid can be used for two different things: as the segment boundaries of distilled flow-map students
(``students``) or as the step times of a few-step sampler (``sampler:<name>``). A stability-balanced grid
gives every distilled segment an equal share of amplification; it does not balance a solver's truncation
error. Which grid serves which use is decided by measurement, not by the theory: this module reads the
study's ``comparison`` table (packaged as ``model_grids.json``, the quick preset on the reference DDPM and
on paper 2's exact mixture) and answers, per schedule and use:

* the measured relMSE to the fine teacher and the Fréchet distance at every measured step count n, the
  schedule's rank among all schedules, and the best schedule there;
* ``supported`` — the rule by which a grid is offered for a use: on the **reference model** (the real
  trained network, ``REFERENCE_MODEL``), its relMSE is at most :data:`TOLERANCE` times the best of the
  standard schedules :data:`STANDARD` (uniform t, uniform log-SNR, Karras ρ = 7) at a majority of the
  measured n. A standard schedule passes where it is that best or close to it.

:func:`evidence_for` gives the one-line statement that ``calibrate``, ``recommend`` and the schedule card
write beside every grid. :func:`summarise` turns a study run's tables into the packaged document, so the
evidence can be regenerated (``python -m distillplan.evidence OUT_DIR`` on a finished study folder).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import DistillPlanError

__all__ = ["USES", "STANDARD", "TOLERANCE", "REFERENCE_MODEL", "HEADLINE_N", "UseEvidence", "load", "summarise", "evidence_for",
           "uses_of", "supported_uses", "describe_uses", "segment_advice", "suggested_segments",
           "supported_schedules"]

USES = ("students", "sampler:euler", "sampler:heun", "sampler:dpmpp-2m", "sampler:ddim")
STANDARD = ("uniform", "logsnr", "karras")
"""The schedules a practitioner uses without any fitting; a fitted grid must match their best to be offered."""
REFERENCE_MODEL = "digits"
"""The model whose measurements decide support: the reference DDPM trained on the bundled digits."""
HEADLINE_N = 8
TOLERANCE = 1.10
"""A grid matches the best standard schedule at n when its relMSE is at most this factor above it."""
_FILE = "model_grids.json"


@dataclass(frozen=True)
class UseEvidence:
    """What the study measured for one schedule and one use."""

    schedule: str
    use: str
    supported: bool
    wins: int  # step counts on the reference model where it matches the best standard schedule (TOLERANCE)
    measured: int  # step counts measured on the reference model
    line: str  # one sentence: the numbers behind ``supported``


def summarise(tables: dict, source: str, machine: str) -> dict:
    """The packaged evidence document from a ``model-grids`` run's ``tables`` (its ``comparison`` rows)."""
    keep = ("model", "use", "schedule", "segments", "relmse", "relmse_std", "fd", "fd_teacher", "nfe", "seeds")
    rows = [{k: row.get(k, 0.0) if k == "relmse_std" else row[k] for k in keep} for row in tables["comparison"]]
    if not rows:
        raise DistillPlanError("tables", "the comparison table is empty")
    return {"study": "model-grids", "source": source, "machine": machine, "rows": rows}


@lru_cache(maxsize=1)
def load() -> dict:
    """The packaged evidence document (see :func:`summarise`)."""
    text = resources.files(__package__).joinpath(_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _cells(doc: dict) -> dict[tuple, dict[int, dict]]:
    cells: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for row in doc["rows"]:
        cells[(row["model"], row["use"], row["schedule"])][int(row["segments"])] = row
    return cells


def _standard_best(cells, model: str, use: str) -> dict[int, tuple[str, float]]:
    best: dict[int, tuple[str, float]] = {}
    for name in STANDARD:
        for n, row in cells.get((model, use, name), {}).items():
            if n not in best or row["relmse"] < best[n][1]:
                best[n] = (name, row["relmse"])
    return best


def _rank(cells, model: str, use: str, n: int, value: float) -> tuple[int, int, str]:
    """(rank of ``value`` among every schedule at (model, use, n), schedules there, best schedule)."""
    others = {s: c[n]["relmse"] for (m, u, s), c in cells.items() if m == model and u == use and n in c}
    best = min(others, key=others.get)
    return 1 + sum(v < value for v in others.values()), len(others), best


def evidence_for(schedule: str, use: str, doc: dict | None = None) -> UseEvidence:
    """What the study measured for ``schedule`` used as ``use`` (:data:`USES`); see the module docstring."""
    if use not in USES:
        raise DistillPlanError("use", f"unknown use {use!r}; choose from {list(USES)}")
    doc = load() if doc is None else doc
    cells = _cells(doc)
    mine = cells.get((REFERENCE_MODEL, use, schedule), {})
    if not mine:
        return UseEvidence(schedule, use, False, 0, 0, f"{use}: not measured for the {schedule} grid; not offered")
    best = _standard_best(cells, REFERENCE_MODEL, use)
    ns = sorted(n for n in mine if n in best)
    wins = sum(mine[n]["relmse"] <= TOLERANCE * best[n][1] for n in ns)
    supported = bool(ns) and 2 * wins > len(ns)
    head = HEADLINE_N if HEADLINE_N in mine else ns[len(ns) // 2] if ns else min(mine)
    parts = []
    for model in sorted({m for (m, u, s) in cells if u == use and s == schedule}):
        row = cells[(model, use, schedule)].get(head)
        if row is None:
            continue
        rank, total, top = _rank(cells, model, use, head, row["relmse"])
        top_value = cells[(model, use, top)][head]["relmse"]
        spread = f" ± {row['relmse_std']:.2g} over {row['seeds']} seeds" if row["seeds"] > 1 else ""
        parts.append(f"{model}: relMSE {row['relmse']:.3g}{spread} (rank {rank} of {total}; best {top} {top_value:.3g}), "
                     f"FD {row['fd']:.3g} (teacher {row['fd_teacher']:.3g})")
    verdict = ("supported" if supported else "not supported") + (
        f": within {TOLERANCE - 1:.0%} of the best standard schedule at {wins} of {len(ns)} step counts on the "
        f"reference model")
    line = f"{use} at n = {head}: " + "; ".join(parts) + f" — {verdict}"
    return UseEvidence(schedule, use, supported, wins, len(ns), line)


def uses_of(schedule: str, doc: dict | None = None) -> dict[str, UseEvidence]:
    """:func:`evidence_for` of ``schedule`` for every use."""
    return {use: evidence_for(schedule, use, doc) for use in USES}


def supported_uses(schedule: str, doc: dict | None = None) -> list[str]:
    """The uses the measurements support ``schedule`` for."""
    return [use for use, ev in uses_of(schedule, doc).items() if ev.supported]


def describe_uses(schedule: str, doc: dict | None = None) -> dict:
    """JSON-able ``{"supported": [...], "not_supported": [...], "evidence": {use: line}, "source": ...}`` of
    ``schedule`` (what ``recommend``, ``calibrate`` and the card write)."""
    doc = load() if doc is None else doc
    evidence = uses_of(schedule, doc)
    return {"schedule": schedule,
            "supported": [u for u, e in evidence.items() if e.supported],
            "not_supported": [u for u, e in evidence.items() if not e.supported],
            "evidence": {u: e.line for u, e in evidence.items()},
            "source": f"{doc['source']} ({doc['machine']})"}


def supported_schedules(use: str, doc: dict | None = None) -> list[str]:
    """Every measured schedule the measurements support for ``use``, best first (relMSE at n = 8 on the
    reference model)."""
    doc = load() if doc is None else doc
    cells = _cells(doc)
    names = sorted({s for (m, u, s) in cells if m == REFERENCE_MODEL and u == use})
    chosen = [s for s in names if evidence_for(s, use, doc).supported]
    return sorted(chosen, key=lambda s: cells[(REFERENCE_MODEL, use, s)].get(HEADLINE_N, {"relmse": math.inf})["relmse"])


def segment_advice(schedule: str, use: str, doc: dict | None = None) -> list[str]:
    """Per model, where the measured error of ``schedule`` for ``use`` stops falling in n: one line each
    (``"digits: lowest relMSE at n = 8 of 4, 8 (0.12; n = 4: 0.2)"``)."""
    doc = load() if doc is None else doc
    lines = []
    for (model, u, s), cell in sorted(_cells(doc).items()):
        if u != use or s != schedule:
            continue
        ns = sorted(cell)
        best = min(ns, key=lambda n: cell[n]["relmse"])
        trend = "still falling at the largest n measured" if best == ns[-1] else f"rising again after n = {best}"
        values = ", ".join(f"n = {n}: {cell[n]['relmse']:.3g}" for n in ns)
        lines.append(f"{model}: lowest relMSE at n = {best} ({trend}; {values})")
    return lines


def suggested_segments(A_total: float, share: float = 1.0) -> int:
    """The fewest segments whose equal shares of the stability coordinate are at most ``share``:
    ``⌈A_total / share⌉`` — each segment then amplifies an error by at most e^share (paper 2's e^{ΔA})."""
    if not (math.isfinite(A_total) and A_total >= 0 and share > 0):
        raise DistillPlanError("A_total", f"must be a finite number >= 0 with a positive share, got {A_total!r}")
    return max(1, math.ceil(A_total / share))


def main(argv: list[str] | None = None) -> int:
    """``python -m distillplan.evidence STUDY_DIR [MACHINE]``: rebuild the packaged document from a finished
    ``model-grids`` study folder (its ``comparison.csv``)."""
    import csv
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m distillplan.evidence STUDY_DIR [MACHINE]", file=sys.stderr)
        return 2
    folder = Path(args[0])
    with open(folder / "comparison.csv", newline="") as handle:
        rows = [{k: (v if k in ("model", "use", "schedule") else float(v)) for k, v in row.items()}
                for row in csv.DictReader(handle)]
    for row in rows:
        row["segments"], row["nfe"], row["seeds"] = int(row["segments"]), int(row["nfe"]), int(row["seeds"])
    machine = args[1] if len(args) > 1 else "unstated machine"
    doc = summarise({"comparison": rows}, f"distillplan study model-grids, {folder.name}", machine)
    target = Path(__file__).with_name(_FILE)
    target.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target} ({len(rows)} rows)")
    return 0
