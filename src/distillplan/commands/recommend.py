"""``distillplan recommend``: merge plan, time grid, exports and a report from a user's latents."""

from __future__ import annotations

import time

import click


@click.command()
@click.option("--data", "data", required=True,
              help="Latents file (.npy/.txt/.csv, shape (n, d)) or an image data set to encode with the VAE "
                   "(digits, patches, folder:PATH, npy:PATH, celeba:ROOT).")
@click.option("--steps", "-T", type=int, default=32, show_default=True, help="Teacher steps T.")
@click.option("--budget", "-s", type=float, default=6.4, show_default=True, help="Optimization time per stage.")
@click.option("--schedule", default="cosine", show_default=True)
@click.option("--segments", type=int, default=8, show_default=True, help="Segments of the flow-map grid.")
@click.option("--beta", type=float, default=5.0, show_default=True, help="OU rate β for the grid.")
@click.option("--horizon", type=float, default=1.0, show_default=True, help="OU horizon T for the grid.")
@click.option("--components", type=int, default=None, help="Mixture components (default: BIC).")
@click.option("--max-stages", type=int, default=None, help="Best plan with at most K stages.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), required=True)
def recommend(data, steps, budget, schedule, segments, beta, horizon, components, max_stages, seed, out):
    """Which plan and which grid for my data and budget: one command, one report."""
    from ..latent.encode import load_latents
    from ..pipelines.recommend import recommend as run

    t0 = time.perf_counter()
    latents, what = load_latents(data)
    doc = run(latents, out, steps=steps, budget=budget, schedule=schedule, segments=segments, beta=beta,
              horizon=horizon, components=components, seed=seed, max_stages=max_stages)
    d, p, g = doc["data"], doc["plan"], doc["grid"]
    opt = p["strategies"]["optimal"]
    click.echo(f"data: {what}: {d['samples']} samples × {d['dim']} dims; {d['share_lambda_le_1']:.0%} of λ_i ≤ 1 "
               f"(median {d['lambda_median']:.3g})")
    click.echo(f"plan (T = {steps}, s = {budget:g}): {p['equals'] or 'non-canonical'}; W2 {opt['w2']:.4e} "
               f"({opt['solver']}, {'certified' if opt['certified'] else 'gap bound %.1e' % opt['gap_bound']}); "
               + ", ".join(f"{k} {v['w2']:.3e}" for k, v in p["strategies"].items() if k != "optimal"))
    click.echo(f"grid: K = {g['mixture']['components']}, σ0 = {g['mixture']['sigma0']:.3g}, A(T) = {g['A_total']:.4g}; "
               f"stability grid " + ", ".join(f"{t:.4g}" for t in g["stability"]))
    click.echo(f"wrote {out}/report.html and its tables, figures and exports in {time.perf_counter() - t0:.1f} s")
