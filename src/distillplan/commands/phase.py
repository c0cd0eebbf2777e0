"""``distillplan phase``: the phase transition of the optimal plan in the data variance λ."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from ..errors import DistillPlanError, check_int_at_least, check_positive
from ..linear import Plan
from ..linear.strategies import STRATEGIES
from ._options import build_model, model_options, parse_float_list


@click.command()
@model_options
@click.option("--lam-min", type=float, default=0.1, show_default=True)
@click.option("--lam-max", type=float, default=10.0, show_default=True)
@click.option("--points", type=int, default=60, show_default=True, help="λ values, log-spaced.")
@click.option("--draw-at", default="0.5,1.08,2,5", show_default=True,
              help="Comma-separated λ values whose optimal plans are drawn as arc diagrams.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Output folder.")
def phase(steps, budget, schedule, init, rate, lam_min, lam_max, points, draw_at, out):
    """Error gap (strategy − optimum) against λ for the four canonical strategies; CSV + figures."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..pipelines.phase import phase_row, run_phase
    from ..plots import save_arc_grid, save_phase_figure

    sched, model = build_model(steps, budget, schedule, init, rate)
    steps = sched.steps
    lo, hi = check_positive("lam-min", lam_min), check_positive("lam-max", lam_max)
    if not lo < hi:
        raise DistillPlanError("lam-max", f"must exceed --lam-min ({lo} >= {hi})")
    n = check_int_at_least("points", points, 2)
    draw = parse_float_list("draw-at", draw_at)
    for v in draw:
        check_positive("draw-at", v)
    lams = np.geomspace(lo, hi, n)
    out_dir = Path(out)
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


def _describe(row: dict) -> str:
    return row["equals"] or f"non-canonical, {row['opt_stages']} stages"
