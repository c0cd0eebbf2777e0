"""``distillplan export``: a time grid or plan boundaries in the formats samplers accept."""

from __future__ import annotations

import json

import click

from ..errors import DistillPlanError
from ..export import (TARGETS, diffusers_sigmas, diffusers_timesteps, export_document, flow_matching_times,
                      from_alphas, from_ou_grid, from_vp_indices, karras_sigmas, plan_boundaries,
                      training_alphas_bar)
from ..schedules import make_schedule
from ._options import parse_float_list

CONVENTIONS = ("ou", "vp-index", "alpha", "plan")


@click.command()
@click.option("--grid", "grid_text", required=True,
              help="Comma-separated grid, noise → data (e.g. an OU grid '1,0.2079,...,0'), or a plan in bracket form "
                   "with --convention plan.")
@click.option("--convention", type=click.Choice(CONVENTIONS), default="ou", show_default=True,
              help="ou: OU times (α = e^{-βt}); vp-index: teacher indices of a VP schedule; alpha: signal levels; "
                   "plan: a merge plan's top-level boundaries.")
@click.option("--beta", type=float, default=5.0, show_default=True, help="OU rate β (ou convention).")
@click.option("--steps", type=int, default=None, help="Teacher steps T of the VP schedule (vp-index / plan).")
@click.option("--schedule", default="cosine", show_default=True, help="VP schedule (vp-index / plan).")
@click.option("--target", type=click.Choice(TARGETS), default="json", show_default=True)
@click.option("--train-steps", type=int, default=1000, show_default=True, help="Discrete training steps of the model.")
@click.option("--beta-schedule", default="linear", show_default=True,
              help="Training β schedule of the model: linear, scaled_linear, squaredcos_cap_v2.")
def export(grid_text, convention, beta, steps, schedule, target, train_steps, beta_schedule):
    """Export a grid to diffusers (timesteps / sigmas), k-diffusion, flow matching or JSON."""
    if convention == "plan":
        from ..linear import Plan

        plan = Plan.parse(grid_text)
        T = steps or plan.start
        path = from_vp_indices(plan_boundaries(plan.validate_steps(T)), make_schedule(schedule, T))
    else:
        values = parse_float_list("grid", grid_text)
        if convention == "ou":
            path = from_ou_grid(values, beta)
        elif convention == "vp-index":
            if steps is None:
                raise DistillPlanError("steps", "vp-index grids need --steps T")
            path = from_vp_indices(values, make_schedule(schedule, steps))
        else:
            path = from_alphas(values)
    ab = training_alphas_bar(train_steps, beta_schedule=beta_schedule)
    if target == "json":
        click.echo(json.dumps(export_document(path, ab), indent=2))
        return
    fn = {"diffusers-timesteps": lambda: diffusers_timesteps(path, ab), "diffusers-sigmas": lambda: diffusers_sigmas(path),
          "k-diffusion": lambda: karras_sigmas(path), "flow-matching": lambda: flow_matching_times(path)}[target]
    click.echo(json.dumps(fn()))
