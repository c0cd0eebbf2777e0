"""``distillplan grid``: a time grid for n-segment flow distillation and its stability shares (paper 2)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from ..errors import DistillPlanError, check_int_at_least

_SYNTHETIC_ONLY = ("sigma0", "dim", "means_seed", "box")


@click.command("grid")
@click.option("--segments", "-n", default=8, show_default=True, type=int, help="Number of segments n.")
@click.option("--kind", default="stability", show_default=True,
              type=click.Choice(["stability", "uniform", "karras", "logsnr"]), help="How to place the grid points.")
@click.option("--sigma0", default=1.0, show_default=True, type=float, help="Component std of the data mixture.")
@click.option("--beta", default=5.0, show_default=True, type=float, help="OU rate beta.")
@click.option("--horizon", default=1.0, show_default=True, type=float, help="Horizon T (noise end).")
@click.option("--dim", default=64, show_default=True, type=int, help="Dimension d of the paper's means.")
@click.option("--components", default=None, type=int,
              help="Number of components K [default: 20; with --data: chosen by BIC].")
@click.option("--means-seed", default=0, show_default=True, type=int, help="torch seed of the paper's means.")
@click.option("--box", default=5.0, show_default=True, type=float, help="Means are uniform in [-box, box]^d.")
@click.option("--data", "data_path", default=None, type=str,
              help="Fit an isotropic mixture to this (n, d) .npy array instead of the paper's means.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.pass_context
def grid(ctx: click.Context, segments: int, kind: str, sigma0: float, beta: float, horizon: float, dim: int,
         components: int | None, means_seed: int, box: float, data_path: str | None, as_json: bool) -> None:
    """Stability-balanced (or uniform / Karras / log-SNR) time grid T = t_0 > ... > t_n = 0.

    For each segment prints its stability share (the integral of the Lipschitz bound L(t) of the
    PF velocity over the segment) and its share of A(T). The mixture is the paper's (K = 20 means
    uniform in [-5, 5]^64, torch seed 0) unless --data gives samples to fit one to.
    """
    from ..mixture import (IsotropicMixture, OUProcess, cumulative_stability, fit_isotropic_mixture, make_grid,
                           mean_diameter, paper_means, segment_stability)

    segments = check_int_at_least("segments", segments, 1)
    process = OUProcess(beta, horizon)
    if data_path is not None:
        clashing = [name for name in _SYNTHETIC_ONLY
                    if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE]
        if clashing:
            option = "--" + clashing[0].replace("_", "-")
            raise DistillPlanError(clashing[0], f"{option} describes the paper's mixture; it cannot be combined with --data")
        mixture = fit_isotropic_mixture(_load_data(data_path), components=components)
        source = "data"
    else:
        means = paper_means(20 if components is None else components, dim, means_seed, box)
        mixture = IsotropicMixture.equal_weights(means, sigma0)
        source = "paper"

    time_grid = make_grid(kind, segments, process, mixture)
    shares = segment_stability(time_grid, mixture, process)
    total = float(cumulative_stability(process.horizon, mixture, process))
    diameter = mean_diameter(mixture.means)

    mixture_info = {"source": source, "components": mixture.components, "dim": mixture.dim,
                    "sigma0": mixture.sigma0, "diameter": diameter}
    if source == "data":
        mixture_info["weights"] = mixture.weights.tolist()
        mixture_info["file"] = data_path
    else:
        mixture_info.update(means_seed=means_seed, box=box)

    if as_json:
        click.echo(json.dumps({
            "kind": kind,
            "grid": time_grid.times.tolist(),
            "segment_A": shares.tolist(),
            "A_total": total,
            "params": {"segments": segments, "beta": process.beta, "horizon": process.horizon},
            "mixture": mixture_info,
        }))
        return
    _print_table(kind, time_grid, shares, total, process, mixture_info)


def _load_data(path: str) -> np.ndarray:
    """Read an ``(n, d)`` array from a ``.npy`` file; any failure names ``data``."""
    if not Path(path).is_file():
        raise DistillPlanError("data", f"no such file: {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DistillPlanError("data", f"cannot read {path} as a .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):  # an .npz archive
        raise DistillPlanError("data", f"{path} must hold a single .npy array, not an archive")
    return arr


def _print_table(kind, time_grid, shares, total, process, info) -> None:
    echo = click.echo
    echo(f"{kind} grid: {time_grid.segments} segments, T = {process.horizon:g}, beta = {process.beta:g}")
    if info["source"] == "data":
        weights = ", ".join(f"{w:.3f}" for w in info["weights"])
        echo(f"fitted mixture ({info['file']}): K = {info['components']}, d = {info['dim']}, "
             f"weights = [{weights}]")
        echo(f"  sigma0 = {info['sigma0']:.6g}, D0 = {info['diameter']:.6g}")
    else:
        echo(f"paper mixture: K = {info['components']}, d = {info['dim']}, sigma0 = {info['sigma0']:g}, "
             f"D0 = {info['diameter']:.6g} (means seed {info['means_seed']}, box {info['box']:g})")
    echo(f"{'k':>4}  {'t_start':>12}  {'t_end':>12}  {'int L dt':>12}  {'share':>7}")
    for k, ((t_start, t_end), a) in enumerate(zip(time_grid.pairs(), shares), start=1):
        echo(f"{k:>4}  {t_start:>12.6g}  {t_end:>12.6g}  {a:>12.6g}  {100 * a / total:>6.2f}%")
    echo(f"A(T) = {total:.6g}")
