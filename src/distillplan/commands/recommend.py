"""``distillplan recommend``: merge plan, time grid, exports and a report from a user's latents."""

from __future__ import annotations

import time

import click

from ..errors import SEED_MAX
from ..linear import LAM_RANGE, MAX_STEPS
from ..linear.planners import MAX_DISTINCT_VARIANCES, MAX_DP_ENTRIES, MAX_RELAXED_ENTRIES
from ..mixture.data import MAX_COMPONENTS
from ..mixture.grids import MAX_SEGMENTS
from ..mixture.model import BETA_HORIZON_RANGE, BETA_RANGE, HORIZON_RANGE
from ._options import notice_planner, option_names

_BT = f"beta * horizon in [{BETA_HORIZON_RANGE[0]:g}, {BETA_HORIZON_RANGE[1]:g}]"


@click.command()
@click.option("--data", "data", required=True,
              help="Latents file (.npy/.txt/.csv, shape (n, d): n >= 10, coordinate variances in "
                   f"[{LAM_RANGE[0]:g}, {LAM_RANGE[1]:g}]; T(T+1)/2 × distinct variances <= {MAX_RELAXED_ENTRIES:.3g}, "
                   f"and with --max-stages at most {MAX_DISTINCT_VARIANCES} distinct and (T+1)² × distinct <= "
                   f"{MAX_DP_ENTRIES:.3g}) or an image data set to encode with the VAE "
                   "(digits, patches, folder:PATH, npy:PATH, celeba:ROOT).")
@click.option("--steps", "-T", type=int, default=32, show_default=True, help=f"Teacher steps T in 2..{MAX_STEPS}.")
@click.option("--budget", "-s", type=float, default=6.4, show_default=True,
              help="Optimization time s >= 0 per stage.")
@click.option("--schedule", type=click.Choice(["cosine", "linear"]), default="cosine", show_default=True,
              help="VP schedule of the plan (linear: T <= 1000).")
@click.option("--segments", type=int, default=8, show_default=True,
              help=f"Segments of the flow-map grid, 1..{MAX_SEGMENTS}.")
@click.option("--beta", type=float, default=5.0, show_default=True,
              help=f"OU rate β for the grid, in [{BETA_RANGE[0]:g}, {BETA_RANGE[1]:g}]; {_BT}.")
@click.option("--horizon", type=float, default=1.0, show_default=True,
              help=f"OU horizon T for the grid, in [{HORIZON_RANGE[0]:g}, {HORIZON_RANGE[1]:g}]; {_BT}.")
@click.option("--components", type=int, default=None,
              help=f"Mixture components K in 1..{MAX_COMPONENTS}, at most half the fitted samples "
                   "(default: BIC over 1..10).")
@click.option("--max-stages", type=int, default=None, help="Best plan with at most K >= 1 stages.")
@click.option("--seed", type=int, default=0, show_default=True, help=f"Seed of the mixture fit, 0..{SEED_MAX}.")
@click.option("--out", required=True, help="Output folder (created with its parents once everything is computed).")
def recommend(data, steps, budget, schedule, segments, beta, horizon, components, max_stages, seed, out):
    """Which plan and which grid for my data and budget: one command, one report."""
    from ..latent.encode import load_latents
    from ..pipelines.recommend import check_options
    from ..pipelines.recommend import recommend as run

    options = dict(steps=steps, budget=budget, schedule=schedule, segments=segments, beta=beta, horizon=horizon,
                   components=components, seed=seed, max_stages=max_stages)
    with option_names(max_stages="max-stages"):
        check_options(out, **options)  # before the data: a data set may first need encoding by the VAE
    t0 = time.perf_counter()
    latents, what = load_latents(data)

    def announce(T, lam, relaxed):
        notice_planner("recommend", T, [lam], f"planning for T = {T} and {lam.size} latent variances", relaxed)

    with option_names(max_stages="max-stages"):
        doc = run(latents, out, on_start=announce, **options)
    d, p, g = doc["data"], doc["plan"], doc["grid"]
    opt = p["strategies"]["optimal"]
    click.echo(f"data: {what}: {d['samples']} samples × {d['dim']} dims; {d['share_lambda_le_1']:.0%} of λ_i ≤ 1 "
               f"(median {d['lambda_median']:.3g})")
    click.echo(f"plan (T = {steps}, s = {budget:g}): {p['equals'] or 'non-canonical'}; W2 {opt['w2']:.4e} "
               f"({opt['solver']}, {'certified' if opt['certified'] else 'gap bound %.1e' % opt['gap_bound']}); "
               + ", ".join(f"{k} {v['w2']:.3e}" for k, v in p["strategies"].items() if k != "optimal"))
    click.echo(f"grid: K = {g['mixture']['components']}, σ0 = {g['mixture']['sigma0']:.3g}, A(T) = {g['A_total']:.4g}; "
               f"stability grid " + ", ".join(f"{t:.4g}" for t in g["stability"]))
    stability = g["uses"]["stability"]
    click.echo(f"  for: {g['made_for']['stability']}; measured to serve: "
               f"{', '.join(stability['supported']) or 'none of the measured uses'} ({stability['source']})")
    for line in stability["evidence"].values():
        click.echo(f"    {line}")
    click.echo(f"wrote {out}/report.html and its tables, figures and exports in {time.perf_counter() - t0:.1f} s")
