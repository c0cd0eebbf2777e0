"""``calibrate`` as a function: a model in, its measured stability profile, balanced grid, card and report out.

Models (``--model``):

* ``digits`` — the reference DDPM (a diffusers ``UNet2DModel`` trained on scikit-learn's digits on first
  use, cached, then loaded back from its saved folder like any user's);
* ``mixture`` — the exact Gaussian mixture of paper 2 under its OU process (ground truth: the analytic bound
  L(t) is drawn beside the measured profile);
* a local diffusers model folder (pipeline folder or model folder with its scheduler config);
* ``module:callable`` or ``file.py:callable`` — any torch callable ``net(x, t)`` with ``--process``,
  ``--parameterisation`` and ``--shape``.

Files written into ``out``: ``profile.csv`` (t, σ/α, L̂ mean/q95/max, Â and its band, and L for mixtures),
``grid.csv`` (the grid with its bootstrap band and each segment's share of Â), ``profile.png``,
``card.json`` (the schedule card), ``calibration.json`` (what ``--json`` prints) and ``report.html``.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DistillPlanError, check_choice, check_int_range, check_range, check_seed
from ..io import check_output_dir

__all__ = ["MODEL_NAMES", "MixtureOptions", "LoadedModel", "model_kind", "load_model", "check_calibration",
           "calibrate_model", "grid_uses"]

MODEL_NAMES = ("digits", "mixture")
"""Built-in models; anything else is a diffusers folder or a ``module:callable``."""


@dataclass(frozen=True)
class MixtureOptions:
    """Paper 2's data: K means uniform in [−box, box]^d (torch seed ``means_seed``), component std σ0, OU(β, T)."""

    dim: int = 64
    components: int = 20
    sigma0: float = 1.0
    beta: float = 5.0
    horizon: float = 1.0
    means_seed: int = 0
    box: float = 5.0

    def build(self):
        """``(IsotropicMixture, OUProcess)``, every value checked."""
        from ..mixture import IsotropicMixture, OUProcess, paper_means
        from ..mixture.data import MAX_COMPONENTS

        check_int_range("components", self.components, 1, MAX_COMPONENTS)
        process = OUProcess(self.beta, self.horizon)
        means = paper_means(self.components, self.dim, check_seed("means-seed", self.means_seed), self.box)
        return IsotropicMixture.equal_weights(means, self.sigma0), process


@dataclass
class LoadedModel:
    """A velocity field and what the card says about where it came from."""

    field: object
    kind: str
    name: str
    content_hash: str | None
    parameterisation: str
    alphas_bar: np.ndarray | None = None
    details: dict = field(default_factory=dict)
    extra_figures: dict = field(default_factory=dict)  # file name -> source path to copy into the output


def model_kind(spec: str) -> str:
    """``digits``, ``mixture``, ``folder`` or ``callable`` for a ``--model`` value (checked, nothing loaded)."""
    if not isinstance(spec, str) or not spec.strip():
        raise DistillPlanError("model", "must be digits, mixture, a diffusers model folder or module:callable")
    if spec in MODEL_NAMES:
        return spec
    path = Path(spec)
    if path.exists():
        if not path.is_dir():
            stem, _, attr = spec.rpartition(":")
            raise DistillPlanError("model", f"{spec} is a file, not a diffusers model folder"
                                            + ("" if attr else "; for a callable write file.py:name"))
        return "folder"
    head, sep, attr = spec.rpartition(":")
    if sep and head and attr and (head.endswith(".py") or all(part.isidentifier() for part in head.split("."))):
        return "callable"
    raise DistillPlanError("model", f"no such folder {spec!r}, and not module:callable; built-in models: "
                                    f"{', '.join(MODEL_NAMES)}")


def load_model(spec: str, *, device: str = "auto", mixture: MixtureOptions | None = None, process=None,
               parameterisation: str | None = None, shape: tuple[int, ...] | None = None, cache_dir=None,
               progress: Callable | None = None) -> LoadedModel:
    """The velocity field for ``--model spec`` (see the module docstring); ``progress`` reports training of
    the reference model on first use."""
    from ..nn.runtime import resolve_device

    kind = model_kind(spec)
    dev = resolve_device(device)
    if kind == "mixture":
        from ..models import MixtureField

        mix, ou = (mixture or MixtureOptions()).build()
        fld = MixtureField(mix, ou, device=dev)
        opts = mixture or MixtureOptions()
        return LoadedModel(fld, kind, f"mixture(K={mix.components}, d={mix.dim}, sigma0={mix.sigma0:g}, "
                                      f"beta={ou.beta:g}, means_seed={opts.means_seed}, box={opts.box:g})",
                           None, "exact", details={"mixture": {"components": mix.components, "dim": mix.dim,
                                                               "sigma0": mix.sigma0}})
    if kind == "callable":
        from ..models import load_callable

        if process is None or parameterisation is None or shape is None:
            missing = [n for n, v in (("process", process), ("parameterisation", parameterisation),
                                      ("shape", shape)) if v is None]
            raise DistillPlanError(missing[0], f"a callable model needs --{' --'.join(missing)}")
        fld = load_callable(spec, process, parameterisation, shape, device=dev)
        return LoadedModel(fld, kind, spec, fld.describe().get("content_hash"), parameterisation)
    from ..models import DiscreteVP, load_diffusers_folder

    extra: dict = {}
    details: dict = {}
    folder = Path(spec)
    if kind == "digits":
        from ..models.reference import load_or_train_reference

        reference = load_or_train_reference(cache_dir=cache_dir, device=str(dev), progress=progress)
        folder = Path(reference.folder)
        details = {"reference": {"train_seconds": reference.train_seconds, "quality": reference.quality,
                                 "folder": str(folder)}}
        samples = folder / "samples.png"
        if samples.is_file():
            extra["reference_samples.png"] = samples
    fld = load_diffusers_folder(folder, device=str(dev), parameterisation=parameterisation, process=process)
    desc = fld.describe()
    table = np.asarray(fld.process.alphas_bar) if isinstance(fld.process, DiscreteVP) else None
    return LoadedModel(fld, kind, "digits" if kind == "digits" else str(folder), desc.get("content_hash"),
                       desc["parameterisation"], table, details, extra)


# ------------------------------------------------------------------------------------------- calibration
def check_calibration(out, *, segments: int, samples: int, points: int, iters: int, profile: str,
                      quantile: float | None, seed: int, bootstrap: int, terminal: str) -> Path:
    """Every calibration option checked before any work (ranges of :mod:`distillplan.calibrate`)."""
    from ..calibrate import BOOTSTRAP_RANGE, POINTS_RANGE, SAMPLES_RANGE, SEGMENTS_RANGE
    from ..calibrate.api import MAX_PROFILE_VALUES
    from ..calibrate.profiles import ITERS_RANGE, PROFILE_KINDS
    from ..calibrate.stability import QUANTILE_RANGE
    from ..export import TERMINALS

    check_int_range("segments", segments, *SEGMENTS_RANGE)
    check_int_range("samples", samples, *SAMPLES_RANGE)
    check_int_range("points", points, *POINTS_RANGE)
    if samples * points > MAX_PROFILE_VALUES:
        raise DistillPlanError("samples", f"samples * points must be at most {MAX_PROFILE_VALUES}, got "
                                          f"{samples} * {points} = {samples * points}")
    check_int_range("iters", iters, *ITERS_RANGE)
    check_choice("profile", profile, PROFILE_KINDS, "profile kind")
    if quantile is not None:
        check_range("quantile", quantile, *QUANTILE_RANGE)
    check_seed("seed", seed)
    check_int_range("bootstrap", bootstrap, *BOOTSTRAP_RANGE)
    check_choice("terminal", terminal, TERMINALS)
    return check_output_dir("out", out)


SCHEDULE_OF_PROFILE = {"jacobian": "calibrated", "acceleration": "acceleration"}
"""The model-grids study's name for the grid of each profile kind."""
MADE_FOR = {
    "jacobian": "made as segment boundaries for few-step flow-map distillation of this model: every segment "
                "carries an equal share of the measured stability coordinate Â = ∫‖∂v/∂x‖ dt (paper 2's rule, "
                "with the model's own Jacobian in place of the analytic bound)",
    "acceleration": "made as a step density for Euler-type samplers: steps h ∝ ‖dv/dt‖^(−1/2) equidistribute the "
                    "Euler local error ½h²‖dv/dt‖",
}


def grid_uses(profile: str) -> tuple[str, str, dict]:
    """``(what_for, evidence, uses)`` of a calibrated grid of ``profile`` kind: what it is made for and which
    uses the model-grids study supports it for, the study's numbers, and the card's ``uses`` entry
    (:func:`distillplan.evidence.describe_uses`)."""
    from ..evidence import describe_uses

    uses = describe_uses(SCHEDULE_OF_PROFILE[profile])
    serves = ", ".join(uses["supported"]) or "none of the measured uses"
    what_for = f"{MADE_FOR[profile]}; measured to serve: {serves}"
    evidence = f"{uses['source']}: " + " | ".join(uses["evidence"].values())
    return what_for, evidence, uses


def calibrate_model(model: LoadedModel, out, *, segments: int = 8, samples: int = 64, points: int = 64,
                    iters: int = 8, profile: str = "jacobian", quantile: float | None = None, seed: int = 0,
                    bootstrap: int = 200, terminal: str = "zero", progress: Callable | None = None) -> dict:
    """Calibrate ``model`` and write every output file into ``out``; return the ``calibration.json`` document."""
    from ..calibrate import calibrate
    from ..export.card import make_card, write_card
    from ..report import build_report

    out = check_calibration(out, segments=segments, samples=samples, points=points, iters=iters, profile=profile,
                            quantile=quantile, seed=seed, bootstrap=bootstrap, terminal=terminal)
    cal = calibrate(model.field, segments, samples=samples, points=points, iters=iters, profile=profile,
                    quantile=quantile, seed=seed, bootstrap=bootstrap, progress=progress)
    process = model.field.process
    profile_line = cal.summary.mean if quantile is None else np.quantile(cal.rho, quantile, axis=0)
    bound = _mixture_bound(model, cal.times)
    what_for, evidence, uses = grid_uses(profile)
    shares = cal.segment_shares()
    card = make_card(cal.grid.times, process, what_for=what_for, evidence=evidence, model=model.name,
                     parameterisation=model.parameterisation, model_hash=model.content_hash or "none",
                     profile={"kind": profile, "N": samples, "M": points, "k": iters, "quantile": quantile,
                              "A_total": cal.A_total},
                     segments=[{"A": float(a)} for a in shares], terminal=terminal, alphas_bar=model.alphas_bar,
                     uses=uses)
    doc = {
        "model": {"spec": model.name, "kind": model.kind, "content_hash": model.content_hash,
                  "parameterisation": model.parameterisation, **model.details},
        "process": process.config() if model.alphas_bar is None else
        {k: v for k, v in process.config().items() if k != "alphas_bar"},
        "profile": profile, "what_for": what_for, "evidence": evidence, "uses": uses,
        "segment_advice": _segment_advice(profile, cal.A_total, segments),
        "sampling_grids": _sampling_grids(),
        "grid": cal.grid.times.tolist(), "grid_band": None if cal.grid_band is None else cal.grid_band.tolist(),
        "t": cal.times.tolist(), "L": profile_line.tolist(), "L_q95": cal.summary.q95.tolist(),
        "L_max": cal.summary.max.tolist(), "A": cal.A_hat.tolist(), "A_total": cal.A_total,
        "segment_A": shares.tolist(), "settings": cal.to_dict()["settings"],
        "unconverged": int(cal.unconverged.sum()), "seconds": cal.seconds,
    }
    if bound is not None:
        doc["L_bound"] = bound.tolist()
    out.mkdir(parents=True, exist_ok=True)
    _write_profile(out / "profile.csv", cal, process, profile_line, bound)
    _write_grid(out / "grid.csv", cal, shares)
    _write_figure(out / "profile.png", cal, process, profile_line, bound, model, profile)
    write_card(card, out / "card.json")
    (out / "calibration.json").write_text(json.dumps(doc, indent=1))
    for name, source in model.extra_figures.items():
        shutil.copyfile(source, out / name)
    build_report(out, title=f"distillplan calibration: {model.name}")
    return doc


def _segment_advice(profile: str, A_total: float, segments: int) -> dict:
    """What the profile suggests for the number of segments, with the study's measurements beside it."""
    from ..evidence import segment_advice, suggested_segments

    schedule = SCHEDULE_OF_PROFILE[profile]
    return {"suggested": suggested_segments(A_total), "rule": "fewest segments with a share of Â at most 1 "
            "(each distilled segment amplifies an error by at most e)", "chosen": segments,
            "measured_students": segment_advice(schedule, "students"),
            "measured_samplers": {use: segment_advice(schedule, use) for use in
                                  ("sampler:euler", "sampler:heun", "sampler:dpmpp-2m", "sampler:ddim")}}


def _sampling_grids() -> dict:
    """Per sampler, the schedules the model-grids measurements support for it, best first."""
    from ..evidence import USES, supported_schedules

    return {use: supported_schedules(use) for use in USES if use.startswith("sampler:")}


def _mixture_bound(model: LoadedModel, times: np.ndarray) -> np.ndarray | None:
    """Paper 2's analytic L(t) at the profile times (mixtures only)."""
    bound = getattr(model.field, "lipschitz_bound", None)
    return None if bound is None else np.asarray(bound(times), dtype=np.float64)


def _write_profile(path: Path, cal, process, line, bound) -> None:
    band = cal.A_band if cal.A_band is not None else np.full((2, cal.times.size), np.nan)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "sigma_over_alpha", "L_used", "L_mean", "L_q95", "L_max", "A", "A_lo", "A_hi"]
                   + (["L_bound"] if bound is not None else []))
        sig = process.kdiffusion_sigma(cal.times)
        for j, t in enumerate(cal.times):
            w.writerow([t, sig[j], line[j], cal.summary.mean[j], cal.summary.q95[j], cal.summary.max[j],
                        cal.A_hat[j], band[0, j], band[1, j]] + ([bound[j]] if bound is not None else []))


def _write_grid(path: Path, cal, shares) -> None:
    band = cal.grid_band if cal.grid_band is not None else np.full((2, cal.grid.times.size), np.nan)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["k", "t", "t_lo", "t_hi", "segment_A_before"])
        for k, t in enumerate(cal.grid.times):
            w.writerow([k, t, band[0, k], band[1, k], shares[k - 1] if k > 0 else ""])


def _write_figure(path: Path, cal, process, line, bound, model: LoadedModel, profile: str) -> None:
    """L̂ and Â against the noise level σ/α (log scale; a point at σ = 0 is left out), grid points marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..plots import save_figure

    kappa = process.kdiffusion_sigma(cal.times)
    keep = kappa > 0
    x = kappa[keep]
    grid_kappa = process.kdiffusion_sigma(cal.grid.times)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    what = "‖∂v/∂x‖₂ (power iteration)" if profile == "jacobian" else "√‖dv/dt‖"
    left.fill_between(x, cal.summary.mean[keep], cal.summary.max[keep], color="#4c72b0", alpha=0.15,
                      label="mean … max over trajectories")
    left.plot(x, cal.summary.q95[keep], color="#4c72b0", lw=0.8, ls="--", label="q95")
    left.plot(x, line[keep], color="#4c72b0", lw=1.8, label="profile used")
    top = float(np.max(cal.summary.max))
    if bound is not None:
        left.plot(x, bound[keep], color="#c44e52", lw=1.2, label="analytic bound L(t) (paper 2)")
        top = max(top, float(np.max(bound)))
    for g in grid_kappa[grid_kappa > 0]:
        left.axvline(g, color="0.6", lw=0.6, zorder=0)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_ylim(max(top * 1e-6, 1e-300), top * 2)
    left.set_xlabel(f"noise level σ/α ({process.name} process)")
    left.set_ylabel(f"{what} per unit process time")
    left.set_title(f"measured profile, N = {cal.settings.samples} trajectories", fontsize=10)
    left.legend(frameon=False, fontsize=8)
    right.plot(x, cal.A_hat[keep], color="0.2", lw=1.5, label="Â = ∫ profile dt")
    if cal.A_band is not None:
        right.fill_between(x, cal.A_band[0][keep], cal.A_band[1][keep], color="0.5", alpha=0.25,
                           label="bootstrap 5–95 %")
    on = grid_kappa > 0
    right.plot(grid_kappa[on], cal.stability_at(cal.grid.times)[on], "o", color="#c44e52",
               label=f"grid ({cal.grid.segments} equal shares)")
    right.set_xscale("log")
    right.set_xlabel(f"noise level σ/α ({process.name} process)")
    right.set_ylabel("Â")
    right.set_title(f"{model.kind}: A_total = {cal.A_total:.4g}", fontsize=10)
    right.legend(frameon=False, fontsize=8)
    save_figure(fig, path, dpi=130)
