"""``distillplan export``: a time grid, plan boundaries or a schedule card in the formats samplers accept."""

from __future__ import annotations

import json

import click

from ..errors import DistillPlanError
from ..export import (BETA_SCHEDULES, MAX_GRID_POINTS, MAX_TRAIN_STEPS, TARGETS, TERMINALS, card_export,
                      diffusers_sigmas, diffusers_timesteps, export_document, flow_matching_times, from_alphas,
                      from_ou_grid, from_vp_indices, kdiffusion_sigmas, plan_boundaries, read_card,
                      training_alphas_bar)
from ..linear.plan import MAX_STEPS, check_steps
from ..mixture.model import BETA_RANGE
from ..schedules import SCHEDULES, make_schedule
from ._options import option_names, parse_float_list

CONVENTIONS = ("ou", "vp-index", "alpha", "plan")
GRID_ONLY = {"convention": "convention", "beta": "beta", "steps": "steps", "schedule": "schedule",
             "train_steps": "train-steps", "beta_schedule": "beta-schedule"}
"""Options that describe a --grid (a card carries its own process and exports): parameter -> option name."""


@click.command()
@click.option("--grid", "grid_text", default=None,
              help=f"Comma-separated grid of at most {MAX_GRID_POINTS} points, noise → data (e.g. an OU grid "
                   "'1,0.2079,...,0'), or a plan in bracket form with --convention plan.")
@click.option("--card", "card_path", default=None,
              help="A schedule card (JSON, card_version 1) to re-emit an export from, instead of --grid.")
@click.option("--convention", type=click.Choice(CONVENTIONS), default="ou", show_default=True,
              help="ou: OU times (α = e^{-βt}); vp-index: teacher indices of a VP schedule; alpha: signal levels; "
                   "plan: a merge plan's top-level boundaries.")
@click.option("--beta", type=float, default=5.0, show_default=True,
              help=f"OU rate β in [{BETA_RANGE[0]:g}, {BETA_RANGE[1]:g}] (ou convention).")
@click.option("--steps", type=int, default=None,
              help=f"Teacher steps T in 2..{MAX_STEPS} of the VP schedule (vp-index; plan: default the plan's T).")
@click.option("--schedule", type=click.Choice(list(SCHEDULES)), default="cosine", show_default=True,
              help="VP schedule (vp-index / plan; linear: T <= 1000).")
@click.option("--target", type=click.Choice(TARGETS), default="json", show_default=True,
              help="With --card, json prints the card.")
@click.option("--terminal", type=click.Choice(TERMINALS), default=None,
              help="How σ/α and flow-time lists end: zero (a trailing 0, what diffusers' Euler sigmas= and "
                   "k-diffusion expect) or sigma_min (the grid's σ_min > 0, for samplers that break on a trailing "
                   "0); same length either way; diffusers timesteps never include the data point.  "
                   "[default: zero, or the card's]")
@click.option("--unsupported", is_flag=True, default=False,
              help="With --card: emit a sampler format even where the card's measurements support the grid for no "
                   "sampler (the card's 'uses' say which uses they support).")
@click.option("--train-steps", type=int, default=1000, show_default=True,
              help=f"Discrete training steps N of the model, 2..{MAX_TRAIN_STEPS}.")
@click.option("--beta-schedule", type=click.Choice(BETA_SCHEDULES), default="linear", show_default=True,
              help="Training β schedule of the model.")
@click.pass_context
def export(ctx, grid_text, card_path, convention, beta, steps, schedule, target, terminal, unsupported, train_steps,
           beta_schedule):
    """Export a grid or a schedule card to diffusers (timesteps / sigmas), k-diffusion, flow matching or JSON."""
    if card_path is not None:
        if grid_text is not None:
            raise DistillPlanError("card", "--card and --grid are mutually exclusive; give one")
        for param, option in GRID_ONLY.items():
            if ctx.get_parameter_source(param) not in (None, click.core.ParameterSource.DEFAULT):
                raise DistillPlanError(option, "describes a --grid; a --card carries its own process and exports")
        out = card_export(read_card(card_path), target, terminal, unsupported)
        click.echo(json.dumps(out, indent=2 if target == "json" else None))
        return
    if grid_text is None:
        raise DistillPlanError("grid", "missing: give --grid VALUES or --card FILE")
    if unsupported:
        raise DistillPlanError("unsupported", "applies to --card only (a --grid carries no measurements)")
    terminal = terminal or "zero"
    if convention == "plan":
        from ..linear import Plan

        with option_names(plan="grid"):
            plan = Plan.parse(grid_text)
            T = check_steps(plan.start if steps is None else steps)
            plan.validate_steps(T)
        path = from_vp_indices(plan_boundaries(plan), make_schedule(schedule, T))
    else:
        values = parse_float_list("grid", grid_text, MAX_GRID_POINTS)
        if convention == "ou":
            path = from_ou_grid(values, beta)
        elif convention == "vp-index":
            if steps is None:
                raise DistillPlanError("steps", "vp-index grids need --steps T")
            path = from_vp_indices(values, make_schedule(schedule, check_steps(steps)))
        else:
            path = from_alphas(values)
    with option_names(train_steps="train-steps", beta_schedule="beta-schedule"):
        ab = training_alphas_bar(train_steps, beta_schedule=beta_schedule)
    if target == "json":
        click.echo(json.dumps(export_document(path, ab, terminal), indent=2))
        return
    fn = {"diffusers-timesteps": lambda: diffusers_timesteps(path, ab, terminal),
          "diffusers-sigmas": lambda: diffusers_sigmas(path, terminal),
          "k-diffusion": lambda: kdiffusion_sigmas(path, terminal),
          "flow-matching": lambda: flow_matching_times(path, terminal)}[target]
    click.echo(json.dumps(fn()))
