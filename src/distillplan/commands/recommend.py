"""``distillplan recommend``: merge plan, time grid, exports and a report from a user's latents."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import DistillPlanError
from ..io import read_array


def load_latents(spec: str):
    """Latents from a file (.npy/.txt/.csv of shape (n, d)), or images encoded by the latents study's VAE
    (``digits``, ``patches``, ``folder:PATH``, ``npy:PATH`` of images, ``celeba:ROOT``)."""
    path = Path(spec)
    if path.suffix.lower() in (".npy", ".txt", ".csv") and not spec.startswith(("npy:", "folder:", "celeba:")):
        arr = read_array(path, "data")
        if arr.ndim <= 2:
            return arr, f"latents from {path.name}"
        spec = f"npy:{spec}"
    return encode_dataset(spec)


def encode_dataset(spec: str, seed: int = 0):
    """Load an image data set and encode it with the latents study's VAE (same config, same cache)."""
    from ..data.spec import load_dataset
    from ..errors import DistillPlanError as _E
    from ..experiments.latents import LatentsConfig
    from ..train import vae as vae_mod

    cfg = LatentsConfig(dataset=spec)
    try:
        ds = load_dataset(spec, image_size=cfg.image_size, limit=cfg.max_images or None)
    except _E as exc:
        raise DistillPlanError("data", str(exc).split(": ", 1)[-1]) from None
    if ds.is_latent:
        return ds.data.astype("float64"), f"latents {ds.name}"
    vcfg = vae_mod.VAEConfig(
        latent_dim=cfg.latent_dim, arch=cfg.vae_arch, width=cfg.vae_width, steps=cfg.vae_steps,
        batch_size=cfg.vae_batch, lr=cfg.vae_lr, beta=cfg.vae_beta, recon_scale=cfg.recon_scale,
        mse_weight=cfg.mse_weight, l1_weight=cfg.l1_weight, ssim_weight=cfg.ssim_weight, seed=seed, device=cfg.device)
    trained = vae_mod.load_or_train_vae(ds.data, vcfg, data_fingerprint=ds.fingerprint, cache_dir=cfg.cache_dir or None)
    mu = vae_mod.encode_means(trained.model, ds.data).astype("float64")
    how = "cached VAE" if trained.cached else "VAE trained now"
    return mu, f"{ds.name} images ({ds.data.shape[0]}) encoded to {mu.shape[1]} latents by the {how}"


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
    from ..recommend import recommend as run

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
