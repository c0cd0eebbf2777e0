"""``distillplan phase``: the phase transition of the optimal plan in the data variance λ."""

from __future__ import annotations

import csv
import json
import time

import click
import numpy as np

from ..errors import DistillPlanError, check_int_range
from ..io import check_output_dir
from ..linear import LAM_RANGE, Plan, check_variances
from ..linear.strategies import STRATEGIES
from ._options import build_model, model_options, notice_planner, parse_float_list

MAX_POINTS = 1000
"""Most λ values of one phase study (each is one planner run)."""
MAX_DRAWN = 12
"""Most plans drawn into phase_plans.png (one panel each)."""
_LAMS = f"[{LAM_RANGE[0]:g}, {LAM_RANGE[1]:g}]"


@click.command()
@model_options
@click.option("--lam-min", type=float, default=0.1, show_default=True, help=f"Smallest λ, in {_LAMS}.")
@click.option("--lam-max", type=float, default=10.0, show_default=True, help=f"Largest λ, in {_LAMS}.")
@click.option("--points", type=int, default=60, show_default=True, help=f"λ values, log-spaced, 2..{MAX_POINTS}.")
@click.option("--draw-at", default="0.5,1.08,2,5", show_default=True,
              help=f"Comma-separated λ values in {_LAMS} (at most {MAX_DRAWN}; empty: none) whose optimal plans "
                   "are drawn as arc diagrams.")
@click.option("--out", required=True, help="Output folder (created with its parents; re-running resumes).")
def phase(steps, budget, schedule, init, rate, lam_min, lam_max, points, draw_at, out):
    """Error gap (strategy − optimum) against λ for the four canonical strategies; CSV + figures."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..pipelines.phase import PHASE_COLUMNS, phase_row, run_phase
    from ..plots import save_arc_grid, save_phase_figure

    sched, model = build_model(steps, budget, schedule, init, rate)
    steps = sched.steps
    lo, hi = check_variances([lam_min], "lam-min")[0], check_variances([lam_max], "lam-max")[0]
    if not lo < hi:
        raise DistillPlanError("lam-max", f"must exceed --lam-min ({lo} >= {hi})")
    n = check_int_range("points", points, 2, MAX_POINTS)
    draw = parse_float_list("draw-at", draw_at, MAX_DRAWN)
    if draw:
        check_variances(draw, "draw-at")
    out_dir = check_output_dir("out", out)
    _check_resumable(out_dir, PHASE_COLUMNS)
    lams = np.geomspace(lo, hi, n)
    notice_planner("phase", steps, [[v] for v in (*lams, *draw)], f"{n + len(draw)} planner runs at T = {steps}")
    t0 = time.perf_counter()
    with Progress(TextColumn("phase"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), transient=True, disable=None) as prog:
        task = prog.add_task("", total=n)

        def tick(row):
            prog.update(task, advance=1, description=f"λ={row['lam']:.3g} {row['solver']}")

        rows = run_phase(sched, model, lams, out_dir, progress=tick)
    lam_arr = np.array([r["lam"] for r in rows])
    gaps = {name: np.array([r[f"{name}_gap"] for r in rows]) for name in STRATEGIES}
    fig = save_phase_figure(lam_arr, gaps, out_dir / "phase_gap.png",
                            title=f"T = {steps}, s = {budget:g}, {schedule}, {model.name}")
    drawn = [(f"λ = {v:g}: {_describe(r)}", Plan.parse(r["plan"]))
             for v, r in ((v, phase_row(sched, model, v)) for v in draw)]
    arcs = save_arc_grid(drawn, out_dir / "phase_plans.png") if drawn else None
    click.echo(f"{'λ':>9}  {'optimum':>10}  {'winner':<13} " + " ".join(f"{k + ' gap':>16}" for k in STRATEGIES))
    for r in rows:
        click.echo(f"{r['lam']:9.4g}  {r['opt_w2']:10.3e}  {(r['equals'] or 'non-canonical'):<13} "
                   + " ".join(f"{r[f'{k}_gap']:16.3e}" for k in STRATEGIES))
    click.echo(f"wrote {out_dir / 'phase.csv'}, {fig}" + (f", {arcs}" if arcs else "")
               + f" in {time.perf_counter() - t0:.1f} s")


def _check_resumable(out_dir, columns) -> None:
    """A folder that already holds a phase study must hold a readable one (it is resumed)."""
    meta, table = out_dir / "phase.json", out_dir / "phase.csv"
    if not (meta.exists() and table.exists()):
        return
    try:
        settings = json.loads(meta.read_text())
        with table.open(newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            for row in reader:
                float(row["lam"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, csv.Error) as exc:
        raise DistillPlanError("out", f"{out_dir} holds an unreadable phase study ({type(exc).__name__}); "
                                      "use another --out") from None
    if not isinstance(settings, dict) or list(header) != list(columns):
        raise DistillPlanError("out", f"{out_dir} holds a phase study this version cannot resume; use another --out")


def _describe(row: dict) -> str:
    return row["equals"] or f"non-canonical, {row['opt_stages']} stages"
