"""The phase-transition study of paper 1: error gap of each canonical strategy vs λ (scalar Λ = λ)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..linear import LinearTeacher, MergeModel
from ..linear.compare import compare_strategies
from ..linear.strategies import STRATEGIES
from ..schedules import VPSchedule

__all__ = ["phase_row", "run_phase", "PHASE_COLUMNS"]

PHASE_COLUMNS = (["lam", "opt_w2", "opt_stages", "solver", "certified", "gap_bound", "equals", "best_canonical", "plan"]
                 + [f"{n}_w2" for n in STRATEGIES] + [f"{n}_gap" for n in STRATEGIES])


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
    """Compute (or resume) ``out/phase.csv``: rows are appended as each λ finishes; finished λ are skipped.

    ``out/phase.json`` records the settings; a different setting in the same folder is refused.
    """
    out.mkdir(parents=True, exist_ok=True)
    settings = {"steps": schedule.steps, "schedule": schedule.name, "budget": model.budget, "init": model.init,
                "rate": model.rate}
    meta = out / "phase.json"
    csv_path = out / "phase.csv"
    if meta.exists() and csv_path.exists():
        old = json.loads(meta.read_text())
        if old != settings:
            from ..errors import DistillPlanError

            raise DistillPlanError("out", f"{out} holds a phase study with other settings {old}; use another --out")
    meta.write_text(json.dumps(settings))
    done: dict[str, dict] = {}
    if csv_path.exists():
        with csv_path.open() as f:
            for row in csv.DictReader(f):
                done[repr(float(row["lam"]))] = row
    todo = [lam for lam in lams if repr(float(lam)) not in done]
    new_file = not csv_path.exists()
    with csv_path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PHASE_COLUMNS)
        if new_file:
            writer.writeheader()
        for lam in todo:
            row = phase_row(schedule, model, float(lam))
            writer.writerow(row)
            f.flush()
            done[repr(float(lam))] = row
            if progress:
                progress(row)
    rows = [done[repr(float(lam))] for lam in lams]
    return [_typed(r) for r in rows]


def _typed(row: dict) -> dict:
    out = dict(row)
    for k, v in row.items():
        if k in ("solver", "equals", "best_canonical", "plan"):
            continue
        if k == "certified":
            out[k] = v if isinstance(v, bool) else v == "True"
        elif k == "opt_stages":
            out[k] = int(v)
        else:
            out[k] = float(v)
    return out
