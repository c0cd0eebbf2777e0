"""Options shared by the linear-planning commands."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import DistillPlanError, check_int_at_least, check_nonnegative
from ..linear import INITS, RATES, MergeModel
from ..linear.planners import SOLVERS
from ..io import read_array
from ..schedules import SCHEDULES, VPSchedule, make_schedule


def model_options(f):
    """--steps, --budget, --schedule, --init, --rate."""
    f = click.option("--rate", type=click.Choice(RATES), default="normalized", show_default=True,
                     help="Convergence rate of a stage: normalized loss (e^-s) or unnormalized (e^-2 r^2 s).")(f)
    f = click.option("--init", "init", type=click.Choice(INITS), default="warm", show_default=True,
                     help="Student initialization: warm start (the design's default), zero, or the single DDIM jump.")(f)
    f = click.option("--schedule", default="cosine", show_default=True,
                     help=f"Noise schedule: {', '.join(SCHEDULES)}, or a file of α_0 = 1 ≥ … ≥ α_T ≥ 0 (.npy/.txt/.csv).")(f)
    f = click.option("--budget", "-s", type=float, default=6.4, show_default=True,
                     help="Optimization time s per distillation stage.")(f)
    f = click.option("--steps", "-T", type=int, default=None, help="Teacher steps T  [default: 32, or from an α file]")(f)
    return f


def build_model(steps: int | None, budget: float, schedule: str, init: str, rate: str):
    """Validate the shared options; return (schedule object, MergeModel)."""
    check_nonnegative("budget", budget)
    model = MergeModel(budget, init, rate)
    if schedule not in SCHEDULES and Path(schedule).suffix.lower() in (".npy", ".txt", ".csv"):
        sched = VPSchedule.from_alphas(read_array(schedule, "schedule").ravel())
        if steps is not None and steps != sched.steps:
            raise DistillPlanError("steps", f"the alpha file {schedule} has T = {sched.steps} steps, not {steps}")
        check_int_at_least("steps", sched.steps, 2)
        return sched, model
    T = check_int_at_least("steps", 32 if steps is None else steps, 2)
    return make_schedule(schedule, T), model


def solver_option(f):
    return click.option("--solver", type=click.Choice(SOLVERS), default="auto", show_default=True,
                        help="Planner: auto picks the exact DP, the ideal-point certificate or the Pareto DP.")(f)


def parse_float_list(name: str, text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise DistillPlanError(name, f"expected comma-separated numbers, got {text!r}") from None
