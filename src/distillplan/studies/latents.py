"""Study ``latents``: paper 1's real-data experiment (VAE latents, diagonal Λ), linear and trained.

One run (``run(config, seed)``):

1. load the dataset (:func:`distillplan.data.load_dataset`) and train — or load from the cache — a
   small VAE (:mod:`distillplan.latent.vae`; skipped for ``npy:`` latents);
2. encode the posterior means, centre them per coordinate and take their variances λ_i (the
   diagonal Λ of the paper; reported: the share of λ_i ≤ 1);
3. **linear** (the paper): the optimal plan for ``LinearTeacher(VPSchedule.cosine(T), λ)`` under
   ``MergeModel(budget)`` and the four canonical strategies; one-step samples z_0 = M_root ⊙ z_T and
   the teacher's P* ⊙ z_T from the same noise z_T ~ N(0, r_T²); L2 to the teacher's samples;
4. **trained** (beyond the paper): a nonlinear MLP diffusion teacher on the latents
   (:mod:`distillplan.latent.denoiser`, DDIM with T steps) and MLP students distilled along
   each plan with ``train_steps`` optimiser steps per stage (warm-started from their first child);
   L2 of their one-step samples to the teacher's DDIM samples from the same noise;
5. decode the first ``n_show`` samples of every method.

Rows: one per (model ∈ {linear, trained}, method ∈ {teacher, the four strategies, optimal}).
Figures: decoded samples per model (rows = methods, columns = the same noise), a histogram of λ;
tables: ``latents_l2`` (L2 to the teacher per method, both models, ranks side by side) and
``latents_summary`` (λ share, winners, Spearman ρ between the two rankings, timings).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..data import load_dataset, parse_dataset
from ..errors import DistillPlanError
from ..latent.config import DEFAULT_ENCODER, DenoiserConfig, VAEConfig
from ..linear import LinearTeacher
from ..linear.compare import compare_strategies
from ..linear.strategies import STRATEGIES
from ..nn.streams import numpy_generator
from ..plots import pyplot, save_figure
from ..runner import Study, Sweep
from ._kit import BOOL, MAX_STEPS, Int, MergeSpec, OneOf, Real, RuntimeSpec, Text, mlp_work, scaled_cost

__all__ = ["LatentsConfig", "METHODS", "PLANS", "STUDY", "paper", "quick", "run", "latents_figures",
           "latents_tables", "write_outputs"]

PLANS = (*STRATEGIES, "optimal")
"""The plans compared: the four canonical strategies and the planner's optimum."""
METHODS = ("teacher", *PLANS)
MODELS = ("linear", "trained")


class _Dataset:
    """A data set spec (:func:`distillplan.data.parse_dataset`)."""

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise DistillPlanError(name, f"must be a data set name, got {value!r}")
        parse_dataset(value)
        return value

    def __str__(self) -> str:
        return "digits | patches[:SIZE] | folder:PATH | npy:PATH | celeba:ROOT"


@dataclass(frozen=True)
class LatentsConfig(MergeSpec, RuntimeSpec):
    """Settings of one ``latents`` run. Defaults are the ``quick`` preset (digits, CPU, minutes).

    dataset: ``digits | patches[:SIZE] | folder:PATH | npy:PATH | celeba:ROOT``; image_size: CelebA
    resize; max_images: keep the first N items (0 = all). vae_*: the VAE (``vae_width``: MLP width
    or deepest conv channels; loss weights as in :mod:`distillplan.latent.vae`; defaults are
    :data:`~distillplan.latent.config.DEFAULT_ENCODER`, the encoder ``recommend`` uses). teacher_steps:
    teacher steps T; budget: the linear model's optimization time s per stage; lam_floor: λ_i below it are
    raised to it (collapsed latent coordinates). teacher_*: the nonlinear latent teacher (``teacher_train_steps``
    optimiser steps); train_steps, batch, lr: the per-stage budget of the trained students;
    train_students: False skips the trained part. n_samples: noise draws for the L2 means;
    n_show: columns of the sample figure. cache_dir: trained weights ("" = $DISTILLPLAN_CACHE or
    ~/.cache/distillplan). threads: 1 is fastest for these small models on a shared machine.
    """

    dataset: str = "digits"
    image_size: int = 64
    max_images: int = 0
    latent_dim: int = DEFAULT_ENCODER.latent_dim
    vae_arch: str = DEFAULT_ENCODER.arch
    vae_width: int = DEFAULT_ENCODER.width
    vae_train_steps: int = DEFAULT_ENCODER.train_steps
    vae_batch: int = DEFAULT_ENCODER.batch
    vae_lr: float = DEFAULT_ENCODER.lr
    vae_beta: float = DEFAULT_ENCODER.beta
    recon_scale: float = DEFAULT_ENCODER.recon_scale
    mse_weight: float = DEFAULT_ENCODER.mse_weight
    l1_weight: float = DEFAULT_ENCODER.l1_weight
    ssim_weight: float = DEFAULT_ENCODER.ssim_weight
    teacher_steps: int = 16
    lam_floor: float = 1e-4
    teacher_hidden: int = 256
    teacher_depth: int = 3
    teacher_train_steps: int = 2000
    teacher_batch: int = 256
    teacher_lr: float = 1e-3
    train_steps: int = 200
    batch: int = 256
    lr: float = 3e-4
    train_students: bool = True
    n_samples: int = 1000
    n_show: int = 8
    cache_dir: str = ""
    threads: int = 1

    RANGES: ClassVar[dict[str, Any]] = dict(
        dataset=_Dataset(), image_size=Int(4, 1024), max_images=Int(0, 10_000_000), latent_dim=Int(1, 4096),
        vae_arch=OneOf(("auto", "mlp", "conv")), vae_width=Int(8, 8192), vae_train_steps=Int(0, MAX_STEPS),
        vae_batch=Int(1, 100_000), vae_lr=Real(0.0, 10.0, open_lo=True), vae_beta=Real(0.0, 1e6),
        recon_scale=Real(0.0, 1e6), mse_weight=Real(0.0, 1e6), l1_weight=Real(0.0, 1e6), ssim_weight=Real(0.0, 1e6),
        teacher_steps=Int(2, 1024), lam_floor=Real(0.0, 1e6, open_lo=True), teacher_hidden=Int(4, 16384),
        teacher_depth=Int(1, 64), teacher_train_steps=Int(0, MAX_STEPS), teacher_batch=Int(1, 100_000),
        teacher_lr=Real(0.0, 10.0, open_lo=True), train_steps=Int(0, MAX_STEPS), batch=Int(1, 100_000),
        lr=Real(0.0, 10.0, open_lo=True), train_students=BOOL, n_samples=Int(2, 1_000_000), n_show=Int(1, 64),
        cache_dir=Text())

    def check(self) -> None:
        if self.n_show > self.n_samples:
            raise DistillPlanError("n_show", f"must be <= n_samples={self.n_samples}, got {self.n_show}")

    def vae(self, seed: int):
        """The :class:`~distillplan.latent.config.VAEConfig` of this run."""
        return VAEConfig(latent_dim=self.latent_dim, arch=self.vae_arch, width=self.vae_width,
                         train_steps=self.vae_train_steps, batch=self.vae_batch, lr=self.vae_lr, beta=self.vae_beta,
                         recon_scale=self.recon_scale, mse_weight=self.mse_weight, l1_weight=self.l1_weight,
                         ssim_weight=self.ssim_weight, seed=seed, device=self.device)


# ----------------------------------------------------------------------------------- run


def _run_id(config: LatentsConfig, seed: int) -> str:
    text = json.dumps([dataclasses.asdict(config), int(seed)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _to_uint8(images: np.ndarray) -> list:
    return np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8).tolist()


def _ranks(values: dict[str, float]) -> dict[str, int]:
    """Competition ranks (1 = smallest; ties share the best rank)."""
    return {k: 1 + sum(1 for w in values.values() if w < v - 1e-12 * max(abs(v), 1e-300)) for k, v in values.items()}


def _spearman(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(set(np.round(a, 12))) < 2 or len(set(np.round(b, 12))) < 2:
        return None
    rho = spearmanr(a, b).statistic
    return None if not np.isfinite(rho) else float(rho)


def _l2(samples: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Mean over samples of ‖z − z_teacher‖₂, and that divided by the mean ‖z_teacher‖₂."""
    dist = np.linalg.norm(samples - reference, axis=1)
    return float(dist.mean()), float(dist.mean() / max(np.linalg.norm(reference, axis=1).mean(), 1e-300))


def run(config: LatentsConfig, seed: int) -> list[dict]:
    """One run of the study (see the module docstring); deterministic given (config, seed)."""
    from ..nn.cache import default_cache_dir

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    cache_dir = config.cache_dir or None
    cache_root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    ds = load_dataset(config.dataset, image_size=config.image_size, limit=config.max_images or None,
                      cache_dir=cache_root)
    timings["load_s"] = time.perf_counter() - t0
    with config.runtime() as (device, _):
        return _run(config, seed, ds, device, cache_dir, timings)


def _run(config: LatentsConfig, seed: int, ds, device, cache_dir, timings: dict[str, float]) -> list[dict]:
    import torch

    from ..latent import denoiser as ld
    from ..latent import vae as vae_mod

    # 1-2. encode, centre, variances
    t0 = time.perf_counter()
    vae = None
    info: dict = {}
    if ds.is_latent:
        mu = ds.data.astype(np.float64)
    else:
        trained = vae_mod.load_or_train_vae(ds.data, config.vae(seed), data_fingerprint=ds.fingerprint,
                                            cache_dir=cache_dir)
        vae = trained.model
        info = {"vae_cached": trained.cached, "vae_arch": vae.arch,
                "vae_recon_mse": trained.metrics.get("recon_mse"), "vae_recon_ssim": trained.metrics.get("recon_ssim")}
        mu = vae_mod.encode_means(vae, ds.data).astype(np.float64)
    timings["vae_s"] = time.perf_counter() - t0
    mean = mu.mean(axis=0)
    x = mu - mean
    lam_raw = x.var(axis=0)
    d = lam_raw.size
    lam = np.maximum(lam_raw, config.lam_floor)

    # 3. linear: plans, analytic errors, one-step samples from shared noise
    t0 = time.perf_counter()
    schedule = config.vp_schedule()
    teacher = LinearTeacher(schedule, lam)
    cmp = compare_strategies(teacher, config.model())
    timings["plan_s"] = time.perf_counter() - t0
    plans = {name: res.plan for name, res in cmp.strategies.items()}
    plans["optimal"] = cmp.optimal.plan
    roots = {name: res.root for name, res in cmp.strategies.items()}
    roots["optimal"] = cmp.optimal.evaluation.root
    evals = {**cmp.strategies, "optimal": cmp.optimal.evaluation}
    z_T = numpy_generator("noise", seed).standard_normal((config.n_samples, d)) * np.sqrt(teacher.r2[-1])
    linear = {"teacher": z_T * teacher.surrogate()}
    for name in PLANS:
        linear[name] = z_T * roots[name]

    # 4. trained: nonlinear teacher and distilled students
    trained_samples: dict[str, np.ndarray] = {}
    if config.train_students:
        t0 = time.perf_counter()
        tcfg = DenoiserConfig(hidden=config.teacher_hidden, depth=config.teacher_depth,
                              train_steps=config.teacher_train_steps, batch=config.teacher_batch, lr=config.teacher_lr,
                              seed=seed, device=config.device)
        nl = ld.load_or_train_denoiser(x.astype(np.float32), schedule, lam, tcfg, cache_dir=cache_dir)
        info.update({"teacher_cached": nl.cached, "teacher_loss": nl.metrics.get("teacher_loss")})
        timings["teacher_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        zt = torch.tensor(z_T, dtype=torch.float32, device=device)
        trained_samples["teacher"] = ld.teacher_sample(nl.model, zt).double().cpu().numpy()
        lat = torch.tensor(x, dtype=torch.float32, device=device)
        dcfg = ld.DistillConfig(train_steps=config.train_steps, batch=config.batch, lr=config.lr, seed=seed)
        memo: dict = {}
        for name in PLANS:
            root = ld.distill_plan(nl.model, plans[name], lat, dcfg, memo)
            trained_samples[name] = ld.sample_students(root, zt).double().cpu().numpy()
        timings["distill_s"] = time.perf_counter() - t0
        info["stages_trained"] = sum(1 for k in memo if k.startswith("["))
        info["trained_teacher_l2_to_linear_teacher"] = _l2(trained_samples["teacher"], linear["teacher"])[0]

    # 5. decode the shown samples
    t0 = time.perf_counter()
    shown: dict[tuple[str, str], list | None] = {}
    for model_name, samples in (("linear", linear), ("trained", trained_samples)):
        for method, z in samples.items():
            shown[model_name, method] = (
                _to_uint8(vae_mod.decode(vae, (z[:config.n_show] + mean).astype(np.float32))) if vae is not None else None)
    timings["decode_s"] = time.perf_counter() - t0

    # rows
    order = np.argsort(-lam_raw)[:2]
    l2 = {m: {k: _l2(v, s["teacher"]) for k, v in s.items()} for m, s in (("linear", linear), ("trained", trained_samples))}
    ranks = {m: _ranks({k: l2[m][k][0] for k in PLANS}) for m in MODELS if l2[m]}
    spearman = (_spearman([l2["linear"][k][0] for k in PLANS], [l2["trained"][k][0] for k in PLANS])
                if config.train_students else None)
    summary = {
        "run": _run_id(config, seed), "dataset": config.dataset, "teacher_steps": config.teacher_steps, "dim": d, "lam_share_le1": float(np.mean(lam_raw <= 1.0)),
        "lam_min": float(lam_raw.min()), "lam_median": float(np.median(lam_raw)), "lam_max": float(lam_raw.max()),
        "n_floored": int(np.sum(lam_raw < config.lam_floor)),
        "optimal_plan": cmp.optimal.plan.to_text(), "optimal_equals": cmp.equals or "",
        "solver": cmp.optimal.solver, "certified": cmp.optimal.certified, "gap_bound": cmp.optimal.gap_bound,
        "best_canonical_linear": min(STRATEGIES, key=lambda k: l2["linear"][k][0]),
        "winner_linear": min(PLANS, key=lambda k: l2["linear"][k][0]),
        "best_canonical_trained": min(STRATEGIES, key=lambda k: l2["trained"][k][0]) if config.train_students else None,
        "winner_trained": min(PLANS, key=lambda k: l2["trained"][k][0]) if config.train_students else None,
        "spearman": spearman, "image_shape": list(ds.shape) if vae is not None else None,
        **info, **{k: round(v, 3) for k, v in timings.items()},
    }
    rows = []
    for model_name in MODELS:
        samples = linear if model_name == "linear" else trained_samples
        for method in METHODS:
            if method not in samples:
                continue
            z = samples[method]
            is_plan = method != "teacher"
            row = {
                "model": model_name, "method": method,
                "plan": plans[method].to_text() if is_plan else "",
                "stages": plans[method].stages if is_plan else 0,
                "l2_to_teacher": l2[model_name][method][0], "rel_l2": l2[model_name][method][1],
                "w2": evals[method].w2 if (is_plan and model_name == "linear") else None,
                "w2_data": (evals[method].w2_data if is_plan else teacher.w2_to_data()) if model_name == "linear" else None,
                "rank": ranks[model_name][method] if is_plan else None,
                **summary,
                "lams": lam_raw.tolist() if (model_name, method) == ("linear", "teacher") else None,
                "points": z[:256][:, order].tolist(),
                "samples": shown[model_name, method],
            }
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------------- outputs


def _by_run(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if "run" in row and "model" in row:
            groups.setdefault(row["run"], []).append(row)
    return groups


def _sample_figure(run_rows: list[dict], model_name: str, path: Path) -> Path | None:
    plt = pyplot()
    rows = [r for m in METHODS for r in run_rows if r["model"] == model_name and r["method"] == m]
    if not rows:
        return None
    if rows[0].get("samples") is not None:
        imgs = [np.asarray(r["samples"], dtype=np.uint8) for r in rows]
        n_show = imgs[0].shape[0]
        fig, axes = plt.subplots(len(rows), n_show, figsize=(1.0 * n_show + 1.6, 1.05 * len(rows)), squeeze=False)
        for i, (row, batch) in enumerate(zip(rows, imgs)):
            for j in range(n_show):
                ax = axes[i, j]
                img = batch[j].transpose(1, 2, 0)
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None,
                          vmin=0, vmax=255, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
            label = row["method"] if row["method"] == "teacher" else f"{row['method']}\nL2={row['l2_to_teacher']:.3g}"
            axes[i, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        for j in range(n_show):
            axes[0, j].set_title(f"z_T #{j}", fontsize=7)
    else:  # latents without a decoder: the two largest-variance coordinates
        fig, axes = plt.subplots(1, len(rows), figsize=(2.2 * len(rows), 2.4), squeeze=False, sharex=True, sharey=True)
        for ax, row in zip(axes[0], rows):
            pts = np.asarray(row["points"])
            ax.scatter(pts[:, 0], pts[:, 1], s=3)
            ax.set_title(row["method"] if row["method"] == "teacher" else f"{row['method']}\nL2={row['l2_to_teacher']:.3g}",
                         fontsize=8)
        axes[0, 0].set_ylabel("2nd largest-λ coordinate")
        axes[0, 0].set_xlabel("largest-λ coordinate")
    first = rows[0]
    what = "linear model (paper)" if model_name == "linear" else "trained MLP teacher and students"
    fig.suptitle(f"{first.get('dataset', '')}: one-step samples, {what}; T={first.get('teacher_steps', '')}, same noise per column",
                 fontsize=9)
    save_figure(fig, path, dpi=120)
    return path


def _lambda_histogram(run_rows: list[dict], path: Path) -> Path | None:
    lam_rows = [r for r in run_rows if r.get("lams")]
    if not lam_rows:
        return None
    plt = pyplot()
    lams = np.asarray(lam_rows[0]["lams"], dtype=float)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(lams, bins=min(40, max(8, lams.size // 2)), color="tab:blue", alpha=0.8)
    ax.axvline(1.0, color="k", ls="--", lw=1, label="λ = 1")
    ax.set_xlabel("λ_i (variance of the centred latent mean)")
    ax.set_ylabel("count")
    share = np.mean(lams <= 1.0)
    ax.set_title(f"{lam_rows[0].get('dataset', '')}: d={lams.size}, share λ_i ≤ 1 = {share:.0%}", fontsize=9)
    ax.legend()
    save_figure(fig, path, dpi=120)
    return path


def latents_figures(rows: list[dict], out_dir) -> list[Path]:
    """``latents_samples_linear.png``, ``latents_samples_trained.png``, ``latents_lambda_hist.png``
    (suffixed ``_<run>`` when the rows hold several runs)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups = _by_run(rows)
    written = []
    for run_id, run_rows in groups.items():
        suffix = "" if len(groups) == 1 else f"_{run_id}"
        for model_name in MODELS:
            p = _sample_figure(run_rows, model_name, out / f"latents_samples_{model_name}{suffix}.png")
            if p:
                written.append(p)
        p = _lambda_histogram(run_rows, out / f"latents_lambda_hist{suffix}.png")
        if p:
            written.append(p)
    return written


def _mean(values) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def latents_tables(rows: list[dict]) -> dict[str, list[dict]]:
    """``latents_l2``: per config and method, L2 to the teacher (mean over samples, then seeds) for the
    linear model and the trained students with their ranks; ``latents_summary``: one row per run."""
    groups = _by_run(rows)
    config_fields = [f.name for f in dataclasses.fields(LatentsConfig)]
    varying = [f for f in config_fields
               if len({json.dumps(r.get(f), sort_keys=True) for r in rows if "run" in r}) > 1 and f != "dataset"]
    label_fields = ["dataset", "teacher_steps", *[f for f in varying if f != "teacher_steps"]]
    by_config: dict[str, dict] = {}
    for run_rows in groups.values():
        first = run_rows[0]
        cfg_key = json.dumps({f: first.get(f) for f in config_fields}, sort_keys=True)
        entry = by_config.setdefault(cfg_key, {"label": {f: first.get(f) for f in label_fields}, "runs": []})
        entry["runs"].append(run_rows)
    l2_table = []
    for entry in by_config.values():
        for method in METHODS:
            out = dict(entry["label"])
            out["method"] = method
            per_model = {}
            for model_name in MODELS:
                picked = [r for rr in entry["runs"] for r in rr if r["model"] == model_name and r["method"] == method]
                per_model[model_name] = picked
            lin, tr = per_model["linear"], per_model["trained"]
            out["n_seeds"] = len(lin)
            out["stages"] = lin[0]["stages"] if lin else None
            out["linear_l2"] = _mean(r["l2_to_teacher"] for r in lin)
            out["linear_w2"] = _mean(r["w2"] for r in lin)
            out["linear_rank"] = _mean(r["rank"] for r in lin)
            out["trained_l2"] = _mean(r["l2_to_teacher"] for r in tr)
            out["trained_rel_l2"] = _mean(r["rel_l2"] for r in tr)
            out["trained_rank"] = _mean(r["rank"] for r in tr)
            out["plan"] = lin[0]["plan"] if lin else ""
            l2_table.append(out)
    summary = []
    keys = ("dim", "lam_share_le1", "lam_min", "lam_median", "lam_max", "n_floored", "vae_recon_mse", "vae_recon_ssim",
            "optimal_equals", "optimal_plan", "solver", "certified", "gap_bound", "best_canonical_linear", "winner_linear",
            "best_canonical_trained", "winner_trained", "spearman", "trained_teacher_l2_to_linear_teacher",
            "stages_trained", "vae_cached", "teacher_cached", "load_s", "vae_s", "plan_s", "teacher_s", "distill_s",
            "decode_s")
    for run_id, run_rows in groups.items():
        first = run_rows[0]
        out = {f: first.get(f) for f in label_fields}
        out["seed"] = first.get("seed")
        out["run"] = run_id
        out.update({k: first.get(k) for k in keys})
        for model_name in MODELS:
            ranked = sorted((r for r in run_rows if r["model"] == model_name and r.get("rank") is not None),
                            key=lambda r: (r["rank"], PLANS.index(r["method"])))
            out[f"ranking_{model_name}"] = " < ".join(r["method"] for r in ranked)
        summary.append(out)
    return {"latents_l2": l2_table, "latents_summary": summary}


def write_outputs(rows: list[dict], out_dir) -> list[Path]:
    """Figures and tables (CSV) of ``rows`` into ``out_dir`` — what ``distillplan study latents`` writes
    besides ``table.csv`` — for rows from :func:`run` called directly."""
    from ..runner import write_csv

    out = Path(out_dir)
    written = latents_figures(rows, out)
    for name, table in latents_tables(rows).items():
        written.append(write_csv(table, out / f"{name}.csv"))
    return written


# ----------------------------------------------------------------------------------- presets


def quick() -> Sweep:
    """Digits (8×8), 16 latents, T = 16, trained students with 200 optimiser steps per stage; CPU, minutes."""
    return Sweep("latents", [LatentsConfig()], seeds=(0,))


def paper() -> Sweep:
    """CelebA-like settings for a GPU: 64×64 CelebA (``--set dataset=celeba:ROOT``; default root ``data``),
    first 50k training images, conv VAE with 128 latents, T = 32, larger teacher and per-stage budget.

    Measured per-step costs on one H100 (fake CelebA tree, shortened run) extrapolate to about
    11 min for the VAE, 2 min for the teacher and 12 min for distilling the five plans."""
    return Sweep("latents", [LatentsConfig(
        dataset="celeba:data", image_size=64, max_images=50000, latent_dim=128, vae_arch="conv", vae_width=256,
        vae_train_steps=30000, vae_batch=128, teacher_steps=32, teacher_hidden=1024, teacher_depth=4,
        teacher_train_steps=50000, teacher_batch=1024, train_steps=2000, batch=1024, n_samples=4096, n_show=10,
        device="auto",
    )], seeds=(0,))


_GROUP_BY = (*(f.name for f in dataclasses.fields(LatentsConfig)), "model", "method")

def _work(config: LatentsConfig) -> float:
    """Multiply-adds of training the VAE, the latent teacher and the plan stages (about five per teacher step)."""
    vae = config.vae_train_steps * config.vae_batch * 3 * mlp_work(256, config.vae_width, 2)
    net = mlp_work(config.latent_dim, config.teacher_hidden, config.teacher_depth)
    teacher = config.teacher_train_steps * config.teacher_batch * 3 * net
    stages = 5 * config.teacher_steps * config.train_steps * config.batch * 3 * net
    return vae + teacher + stages

STUDY = Study("latents", LatentsConfig, run, {"quick": quick, "paper": paper},
              group_by=_GROUP_BY, metrics=("l2_to_teacher", "rel_l2", "w2", "rank", "stages"),
              figures=latents_figures, tables=latents_tables,
              description="VAE latents (diagonal Λ): linear-model plans vs trained MLP students, L2 to the teacher",
              cost=scaled_cost(_work, LatentsConfig(), 60), cost_basis="scaled from a measured quick-preset run on 2 shared Xeon cores")
