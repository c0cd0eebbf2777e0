"""``distillplan grid``: a time grid for n-segment flow distillation and its stability shares (paper 2)."""

from __future__ import annotations

import json

import click

from ..errors import SEED_MAX, DistillPlanError, check_int_range
from ..io import read_array
from ..mixture.data import BOX_RANGE, MAX_COMPONENTS, MAX_DIM, fit_seconds
from ..mixture.grids import MAX_SEGMENTS
from ..mixture.model import BETA_HORIZON_RANGE, BETA_RANGE, HORIZON_RANGE, SIGMA0_RANGE
from ._options import notice_cost, option_names

_SYNTHETIC_ONLY = ("sigma0", "dim", "means_seed", "box")


def _range(r: tuple[float, float]) -> str:
    return f"[{r[0]:g}, {r[1]:g}]"


@click.command("grid")
@click.option("--segments", "-n", default=8, show_default=True, type=int,
              help=f"Number of segments n in 1..{MAX_SEGMENTS}.")
@click.option("--kind", default="stability", show_default=True,
              type=click.Choice(["stability", "uniform", "karras", "logsnr"]), help="How to place the grid points.")
@click.option("--sigma0", default=1.0, show_default=True, type=float,
              help=f"Component std of the data mixture, in {_range(SIGMA0_RANGE)}.")
@click.option("--beta", default=5.0, show_default=True, type=float,
              help=f"OU rate beta in {_range(BETA_RANGE)}; beta * horizon in {_range(BETA_HORIZON_RANGE)}.")
@click.option("--horizon", default=1.0, show_default=True, type=float,
              help=f"Horizon T (noise end) in {_range(HORIZON_RANGE)}; beta * T in {_range(BETA_HORIZON_RANGE)}.")
@click.option("--dim", default=64, show_default=True, type=int, help=f"Dimension d of the paper's means, 1..{MAX_DIM}.")
@click.option("--components", default=None, type=int,
              help=f"Number of components K in 1..{MAX_COMPONENTS} [default: 20; with --data: chosen by BIC "
                   "over 1..10, and at most n/2].")
@click.option("--means-seed", default=0, show_default=True, type=int,
              help=f"torch seed of the paper's means, 0..{SEED_MAX}.")
@click.option("--box", default=5.0, show_default=True, type=float,
              help=f"Means are uniform in [-box, box]^d; box in {_range(BOX_RANGE)}.")
@click.option("--data", "data_path", default=None, type=str,
              help="Fit an isotropic mixture to this (n, d) array of samples instead of the paper's means "
                   "(.npy, .txt or .csv; n >= 2 rows, no constant column).")
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
    from ..mixture.data import check_samples

    segments = check_int_range("segments", segments, 1, MAX_SEGMENTS)
    process = OUProcess(beta, horizon)
    if components is not None:
        check_int_range("components", components, 1, MAX_COMPONENTS)
    if data_path is not None:
        clashing = [name for name in _SYNTHETIC_ONLY
                    if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE]
        if clashing:
            option = clashing[0].replace("_", "-")
            raise DistillPlanError(option, f"--{option} describes the paper's mixture; it cannot be combined with --data")
        data = check_samples(read_array(data_path, "data"), "data", min_rows=2 * (components or 1))
        notice_cost("grid", f"fitting a mixture to {data.shape[0]} x {data.shape[1]} samples",
                    fit_seconds(*data.shape, components))
        mixture = fit_isotropic_mixture(data, components=components)
        source = "data"
    else:
        with option_names(seed="means-seed"):
            means = paper_means(20 if components is None else components, dim, means_seed, box)
        mixture = IsotropicMixture.equal_weights(means, sigma0)
        source = "paper"

    with option_names(n="segments", mixture="data" if source == "data" else "sigma0"):
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
        share = f"{100 * a / total:>6.2f}%" if total > 0 else f"{'-':>7}"  # A(T) = 0: no shares
        echo(f"{k:>4}  {t_start:>12.6g}  {t_end:>12.6g}  {a:>12.6g}  {share}")
    echo(f"A(T) = {total:.6g}")
