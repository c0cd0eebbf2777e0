"""``distillplan calibrate``: a stability-balanced grid measured on a trained model (or the exact mixture)."""

from __future__ import annotations

import json
import time

import click

from ..errors import SEED_MAX, DistillPlanError
from ..mixture.data import BOX_RANGE, MAX_COMPONENTS, MAX_DIM
from ..mixture.model import BETA_HORIZON_RANGE, BETA_RANGE, HORIZON_RANGE, SIGMA0_RANGE
from ._options import format_seconds, option_names

_MIXTURE_ONLY = ("dim", "components", "sigma0", "beta", "horizon", "means_seed", "box")
_NETWORK_ONLY = ("process", "parameterisation", "shape")


def _r(r) -> str:
    return f"[{r[0]:g}, {r[1]:g}]"


@click.command()
@click.option("--model", "model_spec", required=True,
              help="digits (the reference DDPM, trained on first use and cached), mixture (paper 2's exact "
                   "mixture), a local diffusers model folder, or module:callable / file.py:callable.")
@click.option("--segments", "-n", type=int, default=8, show_default=True, help="Grid segments n in 1..10000.")
@click.option("--samples", type=int, default=64, show_default=True,
              help="Trajectories N in 2..65536 (N × points at most 2097152).")
@click.option("--points", type=int, default=64, show_default=True, help="Profile points M per trajectory, 8..4096.")
@click.option("--iters", type=int, default=8, show_default=True,
              help="Power iterations k per point, 1..1000 (stops early when converged).")
@click.option("--profile", type=click.Choice(["jacobian", "acceleration"]), default="jacobian", show_default=True,
              help="jacobian: ‖∂v/∂x‖₂ by power iteration (paper 2's L); acceleration: √‖dv/dt‖ by finite "
                   "differences (cheap, SharpEuler-style).")
@click.option("--quantile", type=float, default=None,
              help="Balance this quantile in [0, 1] of the per-trajectory Â(t) instead of their mean.")
@click.option("--bootstrap", type=int, default=200, show_default=True, help="Bootstrap resamples for the bands, 0..100000.")
@click.option("--terminal", type=click.Choice(["zero", "sigma_min"]), default="zero", show_default=True,
              help="Exported σ lists end in 0 (zero) or at the grid's σ_min (for samplers that break on a 0).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:<i> or mps.")
@click.option("--seed", type=int, default=0, show_default=True, help=f"Seed of noises and probes, 0..{SEED_MAX}.")
@click.option("--process", default=None,
              help="Callable models: ou, cosine-vp, discrete-vp, edm or rectified-flow (a folder's own scheduler "
                   "config decides; given for a folder, it must agree).")
@click.option("--parameterisation", default=None,
              help="Callable models: epsilon, x0, v, score or velocity (a folder's must agree).")
@click.option("--shape", default=None, help="Callable models: one sample's shape, e.g. 1,8,8 or 2.")
@click.option("--dim", type=int, default=64, show_default=True, help=f"Mixture: dimension d, 1..{MAX_DIM}.")
@click.option("--components", type=int, default=20, show_default=True,
              help=f"Mixture: components K, 1..{MAX_COMPONENTS}.")
@click.option("--sigma0", type=float, default=1.0, show_default=True, help=f"Mixture: component std in {_r(SIGMA0_RANGE)}.")
@click.option("--beta", type=float, default=5.0, show_default=True,
              help=f"Mixture: OU rate in {_r(BETA_RANGE)}; beta * horizon in {_r(BETA_HORIZON_RANGE)}.")
@click.option("--horizon", type=float, default=1.0, show_default=True, help=f"Mixture: horizon in {_r(HORIZON_RANGE)}.")
@click.option("--means-seed", type=int, default=0, show_default=True, help=f"Mixture: torch seed of the means, 0..{SEED_MAX}.")
@click.option("--box", type=float, default=5.0, show_default=True, help=f"Mixture: means uniform in [-box, box]^d, box in {_r(BOX_RANGE)}.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (grid, t, L, A_total, L_bound for mixtures).")
@click.option("--out", required=True, help="Output folder (created with its parents).")
@click.pass_context
def calibrate(ctx, model_spec, segments, samples, points, iters, profile, quantile, bootstrap, terminal, device, seed,
              process, parameterisation, shape, dim, components, sigma0, beta, horizon, means_seed, box, as_json, out):
    """Measure ‖∂v/∂x‖ (or ‖dv/dt‖) along the model's own probability-flow trajectories and split the
    stability coordinate Â = ∫ profile evenly: a grid, its band, a schedule card and a report."""
    from ..nn.runtime import cpu_runtime, resolve_device
    from ..pipelines.calibrate import MixtureOptions, calibrate_model, check_calibration, load_model, model_kind

    options = dict(segments=segments, samples=samples, points=points, iters=iters, profile=profile,
                   quantile=quantile, seed=seed, bootstrap=bootstrap, terminal=terminal)
    check_calibration(out, **options)
    kind = model_kind(model_spec)
    given = {n for n in _MIXTURE_ONLY + _NETWORK_ONLY
             if ctx.get_parameter_source(n) is click.core.ParameterSource.COMMANDLINE}
    misplaced = sorted(given & set(_MIXTURE_ONLY)) if kind != "mixture" else sorted(given & set(_NETWORK_ONLY))
    if misplaced:
        name = misplaced[0].replace("_", "-")
        where = "--model mixture" if name in [m.replace("_", "-") for m in _MIXTURE_ONLY] else \
            "a model folder or callable"
        raise DistillPlanError(name, f"--{name} applies to {where}, not to --model {model_spec}")
    if kind == "digits" and (given & set(_NETWORK_ONLY)):
        name = sorted(given & set(_NETWORK_ONLY))[0]
        raise DistillPlanError(name, f"--{name} cannot change the reference model")
    resolve_device(device)
    sample_shape = _parse_shape(shape) if shape is not None else None
    mixture = MixtureOptions(dim, components, sigma0, beta, horizon, means_seed, box)
    if kind == "mixture":
        with option_names(seed="means-seed"):
            mixture.build()

    echo = (lambda *a, **k: None) if as_json else click.echo
    start = time.perf_counter()
    with cpu_runtime():
        with option_names(means_seed="means-seed"):
            model = load_model(model_spec, device=device, mixture=mixture, process=process,
                               parameterisation=parameterisation, shape=sample_shape,
                               progress=_training_progress(echo))
        _announce(model, options, echo)
        doc = calibrate_model(model, out, progress=_progress(points, as_json), **options)
    if as_json:
        click.echo(json.dumps(doc))
        return
    _print_summary(doc, model, out, time.perf_counter() - start)


def _parse_shape(text: str) -> tuple[int, ...]:
    items = [s.strip() for s in text.split(",")]
    if not items or any(not s for s in items):
        raise DistillPlanError("shape", f"must be comma-separated positive integers, e.g. 1,8,8, got {text!r}")
    try:
        dims = tuple(int(s) for s in items)
    except ValueError:
        raise DistillPlanError("shape", f"must be comma-separated positive integers, e.g. 1,8,8, got {text!r}") from None
    if any(d < 1 for d in dims) or len(dims) > 8:
        raise DistillPlanError("shape", f"needs 1..8 positive sizes, got {text!r}")
    return dims


def _training_progress(echo):
    state = {"last": -1}

    def report(step, total, loss):
        pct = int(100 * step / max(total, 1))
        if pct // 10 != state["last"] // 10 or step == total:
            state["last"] = pct
            echo(f"  training the reference model: {pct:3d} % (step {step}/{total}, loss {loss:.4f})", err=True)

    return report


def _progress(points: int, quiet: bool):
    if quiet:
        return None
    state = {"last": -1}

    def report(done, total):
        pct = int(100 * done / max(total, 1))
        if pct // 25 != state["last"] // 25 or done == total:
            state["last"] = pct
            click.echo(f"  calibrating: {done}/{total} profile points", err=True)

    return report


def _announce(model, options, echo) -> None:
    """The cost line: forward-pass equivalents, timed on one batch of the model."""
    from ..calibrate import calibration_cost
    from ..models import probe

    import torch

    field = model.field
    n = options["samples"]
    cost = calibration_cost(field, n, options["points"], options["iters"], options["profile"])
    probe(field)  # checks the model and warms it up
    x = field.prior(n, torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    with torch.no_grad():
        field.velocity(x, float(field.process.horizon))
    batch = time.perf_counter() - t0  # one forward pass of all N trajectories
    echo(f"calibrate: {model.name}; {n} trajectories × {options['points']} points, {cost.line()}: about "
         f"{format_seconds(cost.total / n * batch)}", err=True)


def _print_summary(doc, model, out, seconds) -> None:
    import numpy as np

    echo = click.echo
    ref = doc["model"].get("reference")
    if ref:
        q = ref.get("quality", {})
        echo(f"reference model: trained in {format_seconds(ref['train_seconds'])} (cached at {ref['folder']})")
        if q:
            echo(f"  sample quality: Fréchet distance in classifier features {q['fd_model_half']:.3g} (real vs "
                 f"real {q['fd_floor']:.3g}, noise {q['fd_ceiling']:.3g}; {q['samples']} DDIM-{q['sampler_steps']} "
                 f"samples; classifier accuracy {q['classifier_accuracy']:.3f})")
    L = np.asarray(doc["L"])
    t = np.asarray(doc["t"])
    k = int(np.argmax(L))
    echo(f"calibration: {doc['settings']['samples']} trajectories × {doc['settings']['points']} points in "
         f"{format_seconds(doc['seconds'])}")
    echo(f"profile ({doc['profile']}): peak {L[k]:.4g} at t = {t[k]:.4g}, {L[0]:.4g} at the noise end, "
         f"{L[-1]:.4g} at the data end; A_total = {doc['A_total']:.4g}"
         + (f"; {doc['unconverged']} power iterations not converged" if doc["unconverged"] else ""))
    if "L_bound" in doc:
        ratio = float(np.max(L / np.asarray(doc["L_bound"])))
        echo(f"analytic bound L(t): measured / bound at most {ratio:.3f}")
    echo(f"grid ({len(doc['grid']) - 1} segments): " + ", ".join(f"{x:.5g}" for x in doc["grid"]))
    echo(f"for: {doc['what_for']}")
    uses = doc["uses"]
    echo(f"evidence ({uses['source']}):")
    for use, line in uses["evidence"].items():
        echo(f"  {line}")
    if not any(u.startswith("sampler:") for u in uses["supported"]):
        echo("  → not offered for sampling: `distillplan export --card` refuses sampler formats of this card "
             "unless --unsupported is given. Measured to serve each sampler on the reference model (best first; "
             "'acceleration' is `calibrate --profile acceleration`):")
        for use, names in doc["sampling_grids"].items():
            echo(f"    {use.split(':')[1]}: " + (", ".join(names) or "no single grid is within 10 % of the best standard "
                                                                  "schedule at most step counts (the best changes "
                                                                  "with n; the study's winners table has it per n)"))
    advice = doc["segment_advice"]
    echo(f"segments: the profile suggests n = {advice['suggested']} ({advice['rule']}; A_total = "
         f"{doc['A_total']:.3g}); you chose {advice['chosen']}. Measured for distilled students on this grid:")
    for line in advice["measured_students"]:
        echo(f"  {line}")
    echo(f"wrote {out}/card.json, profile.csv, grid.csv, profile.png and report.html in {format_seconds(seconds)}")
