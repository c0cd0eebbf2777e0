"""The phase-transition study of paper 1: error gap of each canonical strategy vs λ (scalar Λ = λ).

Each λ is one run of the runner's results store ``out/results.sqlite``: claimed, computed and
stored in one transaction, so a killed run loses at most the λ it was computing and processes
sharing a folder compute each λ once. ``out/phase.csv`` is written from the store at the end
(atomically). A ``phase.csv`` from before the store (appended row by row) is read into it first:
its complete rows are kept; a torn last line and garbled lines are dropped and recomputed.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import DistillPlanError
from ..linear import LinearTeacher, MergeModel
from ..linear.compare import compare_strategies
from ..linear.strategies import STRATEGIES
from ..runner import ResultStore, Study, Sweep, SweepError, Task, run_sweep, task_key
from ..schedules import VPSchedule

__all__ = ["phase_row", "run_phase", "PHASE_COLUMNS", "PhasePoint"]

PHASE_COLUMNS = (["lam", "opt_w2", "opt_stages", "solver", "certified", "gap_bound", "equals", "best_canonical", "plan"]
                 + [f"{n}_w2" for n in STRATEGIES] + [f"{n}_gap" for n in STRATEGIES])

STUDY = "phase"
"""Study name of the phase runs in the results store."""


@dataclass(frozen=True)
class PhasePoint:
    """The config of one stored phase run: the settings of ``phase.json``, the schedule's α digest, and λ."""

    steps: int
    schedule: str
    budget: float
    init: str
    rate: str
    alphas_sha256: str
    lam: float


def phase_row(schedule: VPSchedule, model: MergeModel, lam: float) -> dict:
    """One λ: the optimum and every strategy's W2 and gap."""
    cmp = compare_strategies(LinearTeacher(schedule, [lam]), model)
    row = {"lam": lam, "opt_w2": cmp.optimal.w2, "opt_stages": cmp.optimal.plan.stages,
           "solver": cmp.optimal.solver, "certified": cmp.optimal.certified, "gap_bound": cmp.optimal.gap_bound,
           "equals": cmp.equals or "", "best_canonical": cmp.best_canonical(), "plan": cmp.optimal.plan.to_text()}
    for n, res in cmp.strategies.items():
        row[f"{n}_w2"] = res.w2
        row[f"{n}_gap"] = cmp.gap(n)
    return row


def run_phase(schedule: VPSchedule, model: MergeModel, lams: np.ndarray, out: Path, progress=None) -> list[dict]:
    """Compute (or resume) the phase study in ``out``: one row per λ, also written to ``out/phase.csv``.

    λ already stored are skipped; λ that another process is computing in the same folder are
    waited for. ``progress(row)`` is called after each λ computed here. ``out/phase.json`` records
    the settings; a different setting in a folder holding phase results is refused.
    """
    out = Path(out)
    settings = _settings(schedule, model)
    with ResultStore(out / "results.sqlite") as store:
        _check_settings(out, settings, store)
        points = [_point(settings, schedule, lam) for lam in lams]
        _import_csv(store, out / "phase.csv", settings, schedule)
        _compute(store, schedule, model, points, progress)
        by_lam = {repr(float(r["lam"])): _typed({c: r[c] for c in PHASE_COLUMNS})
                  for r in store.rows(STUDY, keys=[_task(p).key for p in points])}
    rows = [by_lam[repr(p.lam)] for p in points]
    _write_csv(out / "phase.csv", rows)
    return rows


# -- settings and keys ---------------------------------------------------------------------------


def _settings(schedule: VPSchedule, model: MergeModel) -> dict:
    return {"steps": schedule.steps, "schedule": schedule.name, "budget": model.budget, "init": model.init,
            "rate": model.rate}


def _check_settings(out: Path, settings: dict, store: ResultStore) -> None:
    """Refuse other settings in a folder with phase results; record ``settings`` in ``out/phase.json``."""
    meta = out / "phase.json"
    if meta.exists():
        try:
            old = json.loads(meta.read_text())
        except ValueError:
            old = None
        has_results = (out / "phase.csv").exists() or store.count_runs(STUDY) > 0
        if old != settings and has_results:
            raise DistillPlanError("out", f"{out} holds a phase study with other settings {old}; use another --out")
    with atomic_write(meta) as fh:
        fh.write(json.dumps(settings))


def _point(settings: dict, schedule: VPSchedule, lam: float) -> PhasePoint:
    digest = hashlib.sha256(np.ascontiguousarray(schedule.alphas, dtype=np.float64).tobytes()).hexdigest()
    return PhasePoint(**settings, alphas_sha256=digest, lam=float(lam))


def _task(point: PhasePoint) -> Task:
    return Task(task_key(STUDY, point, 0), point, 0, STUDY)


# -- computing -------------------------------------------------------------------------------------


def _phase_run(schedule: VPSchedule, model: MergeModel, point: PhasePoint, seed: int) -> list[dict]:
    return [phase_row(schedule, model, point.lam)]


def _compute(store: ResultStore, schedule: VPSchedule, model: MergeModel, points: list[PhasePoint],
             progress) -> None:
    """Run the λ not yet stored, in this process, with claims; re-raise the first failure's exception."""
    study = Study(STUDY, PhasePoint, partial(_phase_run, schedule, model))
    on_run = None if progress is None else (lambda task, result: progress(_typed(result.rows[0])))
    try:
        run_sweep(study, Sweep(STUDY, points, seeds=[0]), store, workers=1, progress=False, on_run=on_run)
    except SweepError as exc:
        raise exc.report.failures[0].exception from None


# -- phase.csv -------------------------------------------------------------------------------------


def _import_csv(store: ResultStore, path: Path, settings: dict, schedule: VPSchedule) -> None:
    """Store the complete rows of a ``phase.csv`` whose λ are not stored yet (a folder from before the store)."""
    if not path.exists():
        return
    done = store.done_keys(STUDY)
    for row in _complete_rows(path):
        task = _task(_point(settings, schedule, row["lam"]))
        if task.key not in done:
            store.record(task, [row], wall_s=0.0)


def _complete_rows(path: Path) -> list[dict]:
    """Typed rows of ``path`` that have every column and parse; the last line is dropped unless it
    ends with a newline (a kill mid-write tears it)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines.pop()
    rows = []
    for raw in csv.DictReader(lines):
        if None in raw or any(raw.get(c) is None for c in PHASE_COLUMNS):
            continue
        try:
            rows.append(_typed({c: raw[c] for c in PHASE_COLUMNS}))
        except (KeyError, ValueError):
            continue
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    with atomic_write(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=PHASE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _typed(row: dict) -> dict:
    out = dict(row)
    for k, v in row.items():
        if k in ("solver", "equals", "best_canonical", "plan"):
            continue
        if k == "certified":
            out[k] = v if isinstance(v, bool) else {"True": True, "False": False}[v]
        elif k == "opt_stages":
            out[k] = int(v)
        else:
            out[k] = float(v)
    return out
