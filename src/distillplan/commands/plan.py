"""``distillplan plan``: the best merge plan for a variance (or a spectrum) and a budget."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from ..errors import DistillPlanError, check_choice, check_int_at_least
from ..io import FIGURE_SUFFIXES, check_input_file, check_output_file, read_variances
from ..linear import LAM_RANGE, STRATEGIES, LinearTeacher, Plan, check_variances, evaluate_plan
from ..linear.compare import Comparison, compare_strategies, plan_json
from ..linear.planners import (MAX_DISTINCT_VARIANCES, MAX_RELAXED_ENTRIES, check_planner_size, check_stage_front,
                               uses_relaxed)
from ._options import build_model, model_options, notice_planner, option_names, solver_option

DEFAULT_LAM = 1.08  # the paper's transition-zone example
_LAMS = f"[{LAM_RANGE[0]:g}, {LAM_RANGE[1]:g}]"


@click.command()
@click.option("--lam", type=float, default=None,
              help=f"Data variance λ in {_LAMS} (scalar case). Default {DEFAULT_LAM}.")
@click.option("--variances", default=None,
              help=f"File of λ_i in {_LAMS} (.npy, .txt or .csv; one row or column) for a diagonal covariance; "
                   f"T(T+1)/2 × distinct values <= {MAX_RELAXED_ENTRIES:.3g} (e.g. 63550 at T = 32), or at most "
                   f"{MAX_DISTINCT_VARIANCES} distinct with --max-stages, --front or a merge model other than the "
                   "warm start.")
@model_options
@solver_option
@click.option("--max-stages", type=int, default=None, help="Best plan with at most K >= 1 distillation stages.")
@click.option("--front", is_flag=True, help="Also print the best W2 for every stage budget 1..K.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--plan", "user_plan", default=None,
              help='Also evaluate your own plan, in bracket form (e.g. "[[4,3],[2,1]]") or a .json file.')
@click.option("--draw", default=None,
              help=f"Write an arc diagram ({', '.join(FIGURE_SUFFIXES)}) into an existing folder.")
@click.option("--strategy", default="optimal", show_default=True,
              help="Which plan --draw draws: optimal, vanilla, progressive, boot, consistency, or custom (--plan).")
def plan(lam, variances, steps, budget, schedule, init, rate, solver, max_stages, front, user_plan, draw, strategy,
         as_json):
    """Which teacher steps to merge, in which order: the optimal plan vs the canonical strategies."""
    if lam is not None and variances is not None:
        raise DistillPlanError("lam", "give either --lam or --variances, not both")
    if variances is not None:
        lam_arr = read_variances(variances)
    else:
        lam_arr = check_variances([DEFAULT_LAM if lam is None else lam], "lam")
    sched, model = build_model(steps, budget, schedule, init, rate)
    steps = sched.steps
    distinct = int(np.unique(lam_arr).size)
    relaxed = uses_relaxed(distinct, model, max_stages if max_stages is None or max_stages < steps - 1 else None,
                           front, solver)
    check_planner_size(steps, distinct, lam_arr.size, "lam" if variances is None else "variances", relaxed=relaxed)
    check_choice("strategy", strategy, ["optimal", *STRATEGIES, "custom"], "strategy")
    custom = _read_plan(user_plan, steps) if user_plan is not None else None
    if strategy == "custom" and custom is None:
        raise DistillPlanError("strategy", "'custom' needs --plan")
    if max_stages is not None:
        check_int_at_least("max-stages", max_stages, 1)
    if distinct == 1 and (front or max_stages is not None):
        with option_names(max_stages="max-stages"):
            check_stage_front(steps, max_stages)
    if draw:
        check_output_file("draw", draw, FIGURE_SUFFIXES)
    what = f"T = {steps}, " + (f"λ = {lam_arr[0]:g}" if variances is None else f"{distinct} distinct variances")
    notice_planner("plan", steps, [lam_arr], what, relaxed)

    teacher = LinearTeacher(sched, lam_arr)
    with option_names(max_stages="max-stages"):
        cmp = compare_strategies(teacher, model, max_stages=max_stages, front=front, solver=solver)
    custom_res = evaluate_plan(custom, teacher, model) if custom is not None else None
    if draw:
        from ..plots import save_arc_diagram

        chosen = {"optimal": cmp.optimal.plan, "custom": custom}.get(strategy) or cmp.strategies[strategy].plan
        save_arc_diagram(chosen, draw, title=f"{strategy} plan, T={steps}, s={budget:g}")
    if as_json:
        doc = {
            "steps": steps, "budget": budget, "schedule": schedule, "model": model.name,
            "dimension": int(lam_arr.size),
            **({"lam": float(lam_arr[0])} if variances is None else {"variances": str(variances)}),
            "strategies": cmp.to_dict(),
        }
        if max_stages is not None:
            doc["max_stages"] = max_stages
        if custom_res is not None:
            doc["strategies"]["custom"] = {"w2": custom_res.w2, "w2_data": custom_res.w2_data,
                                           "stages": custom_res.stages, "gap": custom_res.w2 - cmp.optimal.w2,
                                           **plan_json(custom)}
        if front:
            doc["front"] = [{"stages": p.stages, "w2": p.w2, **plan_json(p.plan)} for p in cmp.optimal.front]
        click.echo(json.dumps(doc))
        return
    _print_human(cmp, lam_arr, steps, budget, schedule, model.name, variances, front, custom_res)
    if draw:
        click.echo(f"arc diagram written to {draw}")


def _read_plan(text: str, steps: int) -> Plan:
    """A plan from bracket text or from a .json file: ``{"merges": [...]}``, ``{"plan": ...}``, the output of
    ``plan --json`` (its optimal plan), or bare nested lists."""
    if not text.lstrip().startswith("[") and Path(text).suffix.lower() == ".json":
        path = check_input_file("plan", text)
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DistillPlanError("plan", f"cannot read {path.name} as UTF-8 text ({type(exc).__name__})") from None
        if not raw.lstrip().startswith("{"):
            return Plan.parse(raw.strip()).validate_steps(steps)
        return Plan.from_json(_optimal_of_report(raw)).validate_steps(steps)
    return Plan.parse(text, steps)


def _optimal_of_report(raw: str) -> str:
    """The optimal plan's entry when ``raw`` is a ``plan --json`` report; otherwise ``raw`` unchanged."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return raw  # Plan.from_json names the problem
    strategies = doc.get("strategies") if isinstance(doc, dict) else None
    entry = strategies.get("optimal") if isinstance(strategies, dict) else None
    return json.dumps(entry) if isinstance(entry, dict) and "merges" in entry else raw


def _print_human(cmp: Comparison, lam: np.ndarray, steps, budget, schedule, model_name, variances, front,
                 custom_res=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    what = f"λ = {lam[0]:g}" if variances is None else (
        f"{lam.size} variances from {variances} (median {np.median(lam):.3g}, {np.mean(lam <= 1):.0%} ≤ 1)")
    console.print(f"[bold]distillplan plan[/bold]: {what}; T = {steps}, s = {budget:g}, schedule {schedule}, {model_name}")
    table = Table(show_edge=False, header_style="bold")
    for col in ("strategy", "W2 to surrogate", "W2 to data", "stages", "gap vs optimum"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for name, res in cmp.strategies.items():
        table.add_row(name, f"{res.w2:.4e}", f"{res.w2_data:.4e}", str(res.stages), f"{cmp.gap(name):.3e}")
    if custom_res is not None:
        table.add_row("your plan", f"{custom_res.w2:.4e}", f"{custom_res.w2_data:.4e}", str(custom_res.stages),
                      f"{custom_res.w2 - cmp.optimal.w2:.3e}")
    opt = cmp.optimal
    table.add_row("[bold]optimal[/bold]", f"[bold]{opt.w2:.4e}[/bold]", f"{opt.evaluation.w2_data:.4e}",
                  str(opt.plan.stages), "0")
    console.print(table)
    best = cmp.best_canonical()
    ratio = cmp.strategies[best].w2 / opt.w2 if opt.w2 > 0 else float("inf")
    better = f"{ratio:.3g}x better than" if ratio >= 1.1 else f"{100 * (1 - 1 / ratio):.2g}% lower W2 than"
    same = f"equals {cmp.equals}" if cmp.equals else f"non-canonical; {better} {best}"
    console.print(f"optimal plan ({same}; solver {opt.solver}):")
    console.print(opt.note)
    console.print(opt.plan.to_text())
    if front and opt.front:
        ft = Table(show_edge=False, header_style="bold", title="best W2 with at most K stages")
        ft.add_column("K", justify="right")
        ft.add_column("W2 to surrogate", justify="right")
        ft.add_column("plan")
        for p in opt.front:
            text = p.plan.to_text()
            ft.add_row(str(p.stages), f"{p.w2:.4e}", text if len(text) <= 70 else text[:67] + "...")
        console.print(ft)
