"""Options and checks shared by the commands: the linear model's options, lists, names, cost notices."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click

from ..errors import DistillPlanError, check_nonnegative
from ..io import ARRAY_SUFFIXES, read_vector
from ..linear import INITS, RATES, MergeModel
from ..linear.plan import MAX_STEPS, check_steps
from ..linear.planners import SOLVERS, planner_seconds
from ..schedules import SCHEDULES, VPSchedule, make_schedule

COST_NOTICE_SECONDS = 10.0
"""Jobs estimated to take longer than this announce their cost on stderr before they start."""


def model_options(f):
    """--steps, --budget, --schedule, --init, --rate."""
    f = click.option("--rate", type=click.Choice(RATES), default="normalized", show_default=True,
                     help="Convergence rate of a stage: normalized loss (e^-s) or unnormalized (e^-2 r^2 s).")(f)
    f = click.option("--init", "init", type=click.Choice(INITS), default="warm", show_default=True,
                     help="Student initialization: warm start (the design's default), zero, or the single DDIM jump.")(f)
    f = click.option("--schedule", default="cosine", show_default=True,
                     help=f"Noise schedule: {', '.join(SCHEDULES)} (linear: T <= 1000), or a file of "
                          "α_0 = 1 ≥ … ≥ α_T ≥ 0 with α_T < 1 (.npy/.txt/.csv, one row or column).")(f)
    f = click.option("--budget", "-s", type=float, default=6.4, show_default=True,
                     help="Optimization time s >= 0 per distillation stage.")(f)
    f = click.option("--steps", "-T", type=int, default=None,
                     help=f"Teacher steps T in 2..{MAX_STEPS}  [default: 32, or from an α file]")(f)
    return f


def build_model(steps: int | None, budget: float, schedule: str, init: str, rate: str):
    """Validate the shared options; return (schedule object, MergeModel)."""
    check_nonnegative("budget", budget)
    model = MergeModel(budget, init, rate)
    if schedule not in SCHEDULES and Path(schedule).suffix.lower() in ARRAY_SUFFIXES:
        alphas = read_vector(schedule, "schedule")
        if not 2 <= alphas.size - 1 <= MAX_STEPS:
            raise DistillPlanError("schedule", f"the alpha file {schedule} has T = {alphas.size - 1} steps; "
                                               f"T must be in 2..{MAX_STEPS}")
        sched = VPSchedule.from_alphas(alphas)
        if steps is not None and steps != sched.steps:
            raise DistillPlanError("steps", f"the alpha file {schedule} has T = {sched.steps} steps, not {steps}")
        return sched, model
    T = check_steps(32 if steps is None else steps)
    return make_schedule(schedule, T), model


def solver_option(f):
    return click.option("--solver", type=click.Choice(SOLVERS), default="auto", show_default=True,
                        help="Planner: auto picks the exact DP, the ideal-point certificate or the Pareto DP.")(f)


def parse_float_list(name: str, text: str, limit: int) -> list[float]:
    """``"1, 0.5,0"`` -> ``[1.0, 0.5, 0.0]``; an empty item, a non-number or more than ``limit`` items raise.

    An empty (or blank) text is an empty list.
    """
    if not text.strip():
        return []
    items = [x.strip() for x in text.split(",")]
    if not all(items):
        raise DistillPlanError(name, f"empty item in {text!r}; expected comma-separated numbers")
    if len(items) > limit:
        raise DistillPlanError(name, f"at most {limit} values, got {len(items)}")
    try:
        return [float(x) for x in items]
    except ValueError:
        raise DistillPlanError(name, f"expected comma-separated numbers, got {text!r}") from None


@contextmanager
def option_names(**names: str):
    """Re-raise a :class:`DistillPlanError` whose argument is an API name as the option's name (``n="segments"``)."""
    try:
        yield
    except DistillPlanError as exc:
        if exc.argument in names:
            raise DistillPlanError(names[exc.argument], exc.message) from None
        raise


def notice_planner(command: str, steps: int, runs, what: str, relaxed: bool = False) -> None:
    """Announce planner runs (one variance array each) estimated to take long, before they start
    (``relaxed``: diagonal Λ is planned by the relaxed planner)."""
    dp = worst = 0.0
    for lam in runs:
        one, at_worst = planner_seconds(steps, lam, relaxed)
        dp, worst = dp + one, worst + at_worst
    notice_cost(command, what, dp, worst if worst > 1.5 * dp else None, "if λ needs the Pareto DP")


def notice_cost(command: str, what: str, seconds: float, worst: float | None = None, when: str = "") -> None:
    """One stderr line when a job (``what``) is estimated to take more than :data:`COST_NOTICE_SECONDS`:
    ``seconds`` typically, and ``worst`` ``when`` something slower is needed."""
    if max(seconds, worst or 0.0) <= COST_NOTICE_SECONDS:
        return
    line = f"{command}: {what}: about {format_seconds(seconds)}"
    if worst is not None:
        line += f", up to {format_seconds(worst)} {when}"
    click.echo(line + " (estimated from timings on 2 CPU cores)", err=True)


def format_seconds(seconds: float) -> str:
    """``0.02 s``, ``42 s``, ``3.5 min``, ``2.1 h``."""
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
