"""Study ``model-grids``: time grids side by side on real models, for few-step sampling and for distillation.

For one model — the reference DDPM on the digits (``digits``) or paper 2's exact mixture (``mixture``) —
and one schedule, a run builds the schedule's grid for every step count n and scores it:

* **sampling** (``task = sampling``): each sampler — Euler, Heun and DPM-Solver++(2M) through diffusers'
  schedulers for the DDPM (:mod:`distillplan.sampling.diffusers_samplers`; the native ones for the mixture,
  which has no training table) and the project's DDIM — from the evaluation noises. ``relmse`` =
  Σ‖x̂ − x‖²/Σ‖x‖² of the final states against the fine teacher's (RK4, 4 steps between each of
  ``teacher_points`` log-SNR-spaced times) from the same noises; ``fd`` = the Fréchet distance of the
  samples' features to real data (digits: the reference model's classifier features; mixture: the raw
  coordinates against exact draws), with the teacher's own ``fd_teacher`` as the floor. Rows compare at
  equal n (Heun makes about 2n model evaluations: ``nfe``); ``grid_run`` is the grid a sampler actually ran
  (diffusers' DPM rounds to whole training steps).
* **distillation** (``task = distillation``): paper 2's segment flow-map students along the grid — one MLP
  per segment regressing the teacher's state at the segment's end on its state at the start, read from one
  teacher pool per model (:class:`~distillplan.flowmap.pool.TeacherPool`: ``pool_samples`` trajectories,
  Hermite dense output between ``pool_points`` nodes) — with ``total_train_steps`` split evenly over the n
  students (the same total budget for every n and grid), scored end to end from the evaluation noises.

Schedules (:mod:`distillplan.sampling.schedules`): uniform t, uniform log-SNR, Karras ρ = 7, the stability
grid of a mixture fitted to the data (what ``recommend`` gives), the calibrated Jacobian grid and the
acceleration grid (``calibrate``), a GITS-style and an OptimalSteps-style programme (both fitted with
Euler jumps on a ``fine_points`` teacher grid). Everything fitted (calibrations, GITS, OptimalSteps) uses
the calibration noises (stream ``("noise", seed, "calibrate")``); everything scored uses the disjoint
evaluation noises (``("noise", seed, "model-grids-eval")``); the pool has its own (``"teacher-pool"``).
Shared artefacts are computed once per model and seed and cached on disk (:mod:`._model_context`).

Tables: ``comparison`` (mean and spread over seeds), ``n8``, ``winners`` (per model, use and n) and
``advice`` (the n at which a schedule's error stops falling). The packaged evidence of
:mod:`distillplan.evidence` is this study's quick preset.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import DistillPlanError
from ..runner import Study, Sweep, grid
from ..io import check_output_dir
from ._kit import (ACTIVATION, MAX_STEPS, FlowSpec, Int, IntSet, OneOf, OptimiserSpec, Real, RuntimeSpec, SubsetOf, Text,
                   mlp_work, scaled_cost)

__all__ = ["ModelGridsConfig", "MODELS", "TASKS", "SCHEDULES", "SAMPLERS", "run", "quick", "paper", "tables",
           "figures", "STUDY"]

MODELS = ("digits", "mixture")
TASKS = ("sampling", "distillation")
SCHEDULES = ("uniform", "logsnr", "karras", "mixture-stability", "calibrated", "acceleration", "gits", "oss")
SAMPLERS = ("euler", "heun", "dpmpp-2m", "ddim")
STUDY_NAME = "model-grids"


@dataclass(frozen=True)
class ModelGridsConfig(FlowSpec, OptimiserSpec, RuntimeSpec):
    """One (model, task, schedule) cell; a run covers every n of ``segments`` (and every sampler). The mixture
    fields (``dim`` … ``horizon``) describe the ``mixture`` model; ``cache_dir`` holds the shared artefacts
    ("" = the default cache directory)."""

    model: str = "digits"
    task: str = "sampling"
    schedule: str = "calibrated"
    segments: tuple[int, ...] = (4, 6, 8, 10, 16)
    samplers: tuple[str, ...] = SAMPLERS
    eval_samples: int = 256
    teacher_points: int = 129
    cal_samples: int = 64
    cal_points: int = 64
    cal_iters: int = 8
    fine_points: int = 41
    gits_coefficient: float = 1.15
    pool_samples: int = 2048
    pool_points: int = 129
    total_train_steps: int = 4000
    width: int = 256
    depth: int = 3
    activation: str = "relu"
    batch: int = 256
    lr: float = 1e-3
    cache_dir: str = ""

    RANGES: ClassVar[dict[str, Any]] = dict(
        model=OneOf(MODELS), task=OneOf(TASKS), schedule=OneOf(SCHEDULES), segments=IntSet(1, 256),
        samplers=SubsetOf(SAMPLERS), eval_samples=Int(2, 1_000_000), teacher_points=Int(8, 4096),
        cal_samples=Int(2, 65536), cal_points=Int(8, 4096), cal_iters=Int(1, 1000), fine_points=Int(3, 513),
        gits_coefficient=Real(0.0, 100.0), pool_samples=Int(16, 1_000_000), pool_points=Int(3, 4096),
        total_train_steps=Int(1, MAX_STEPS), width=Int(1, 16384), depth=Int(1, 64), activation=ACTIVATION,
        cache_dir=Text())

    def check(self) -> None:
        if self.fine_points <= max(self.segments):
            raise DistillPlanError("fine_points", f"must exceed the largest step count {max(self.segments)} "
                                                  f"(the GITS/OptimalSteps programmes choose n of its points)")
        if self.task == "distillation" and self.total_train_steps < max(self.segments):
            raise DistillPlanError("total_train_steps", "must give every segment student at least one step")

    def preflight(self) -> None:
        """The device exists and the artefact cache folder can be written."""
        super().preflight()
        if self.cache_dir:
            check_output_dir("cache_dir", self.cache_dir)

    def model_options(self) -> str:
        """What identifies the model and the shared artefacts (JSON, for the context cache)."""
        opts: dict = {"eval_samples": self.eval_samples, "teacher_points": self.teacher_points,
                      "cal_samples": self.cal_samples, "cal_points": self.cal_points, "cal_iters": self.cal_iters,
                      "fine_points": self.fine_points}
        if self.model == "mixture":
            opts.update(dim=self.dim, components=self.components, sigma0=self.sigma0, beta=self.beta,
                        horizon=self.horizon, means_seed=self.means_seed, box=self.box)
        return json.dumps(opts, sort_keys=True)


# ------------------------------------------------------------------------------------------------ run
def run(config: ModelGridsConfig, seed: int) -> list[dict]:
    """Rows ``(model, task, schedule, segments, sampler, relmse, fd, fd_teacher, nfe, grid, …)``."""
    from ._model_grids_work import ScheduleBook, distill_rows, sampling_rows
    from ._model_context import model_context

    with config.runtime() as (device, threads):
        ctx = model_context(config.model, config.model_options(), seed, str(device), config.cache_dir)
        book = ScheduleBook(ctx, config)
        start = time.perf_counter()
        if config.task == "sampling":
            rows = sampling_rows(ctx, book, config)
        else:
            rows = distill_rows(ctx, book, config, seed)
    for row in rows:
        row.update(model=config.model, task=config.task, schedule=config.schedule, seed=seed, threads=threads,
                   run_s=time.perf_counter() - start)
    return rows


# ------------------------------------------------------------------------------------------------ presets
QUICK_SETTINGS = dict(eval_samples=256, teacher_points=65, cal_samples=32, cal_points=48, fine_points=33,
                      pool_samples=1024, pool_points=65, total_train_steps=2000, width=256, depth=3, batch=256, lr=1e-3)
"""The quick preset: both models, every schedule, sampling at n ∈ {4, 6, 8, 10, 16} with every sampler,
distillation at n ∈ {4, 8}; sized for 15 minutes on 2 CPU cores from the cached reference model."""


def quick() -> Sweep:
    configs = (grid(ModelGridsConfig, base=QUICK_SETTINGS, model=list(MODELS), task=["sampling"],
                    schedule=list(SCHEDULES))
               + grid(ModelGridsConfig, base={**QUICK_SETTINGS, "segments": (4, 8)}, model=list(MODELS),
                      task=["distillation"], schedule=list(SCHEDULES)))
    return Sweep(STUDY_NAME, configs, (0,))


def paper() -> Sweep:
    """GPU-sized: 1024 evaluation noises, 256 calibration trajectories, distillation at n ∈ {4, 8, 16} with
    width-512 students and 40 000 total steps, 3 seeds."""
    base = dict(eval_samples=1024, cal_samples=256, cal_points=96, fine_points=61, pool_samples=16384,
                total_train_steps=40_000, width=512, depth=4, batch=1024, lr=2e-4, device="auto")
    configs = (grid(ModelGridsConfig, base=base, model=list(MODELS), task=["sampling"], schedule=list(SCHEDULES))
               + grid(ModelGridsConfig, base={**base, "segments": (4, 8, 16)}, model=list(MODELS),
                      task=["distillation"], schedule=list(SCHEDULES)))
    return Sweep(STUDY_NAME, configs, (0, 1, 2))


# ------------------------------------------------------------------------------------------------ tables
def _use(row: dict) -> str:
    return "students" if row["task"] == "distillation" else f"sampler:{row['sampler']}"


def _grouped(entries, keys) -> list[tuple[tuple, list[dict]]]:
    """``entries`` grouped by the values of ``keys``, groups sorted by key."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for entry in entries:
        groups[tuple(entry[k] for k in keys)].append(entry)
    return sorted(groups.items())


def tables(rows: list[dict]) -> dict[str, list[dict]]:
    """``comparison`` (every schedule × n × use, mean over seeds), ``n8`` (its n = 8 rows), ``winners``
    (per model, use and n: the schedule with the lowest relMSE and with the lowest FD) and ``advice``
    (per model, use and schedule: the n at which the error stops falling)."""
    keyed = [{**row, "use": _use(row), "segments": int(row["segments"])} for row in rows]
    comparison = []
    for (model, use, schedule, n), group in _grouped(keyed, ("model", "use", "schedule", "segments")):
        comparison.append({"model": model, "use": use, "schedule": schedule, "segments": n,
                           **{k: float(np.mean([r[k] for r in group])) for k in ("relmse", "fd", "fd_teacher")},
                           "relmse_std": float(np.std([r["relmse"] for r in group])),
                           "nfe": int(group[0]["nfe"]), "seeds": len(group)})
    winners = []
    for (model, use, n), group in _grouped(comparison, ("model", "use", "segments")):
        best = min(group, key=lambda e: e["relmse"])
        best_fd = min(group, key=lambda e: e["fd"])
        calibrated = next((e for e in group if e["schedule"] == "calibrated"), None)
        winners.append({"model": model, "use": use, "segments": n, "best_relmse": best["schedule"],
                        "relmse": best["relmse"], "best_fd": best_fd["schedule"], "fd": best_fd["fd"],
                        "calibrated_relmse": calibrated["relmse"] if calibrated else math.nan,
                        "calibrated_rank": 1 + sum(e["relmse"] < calibrated["relmse"] for e in group)
                        if calibrated else -1, "schedules": len(group)})
    advice = []
    for (model, use, schedule), group in _grouped(comparison, ("model", "use", "schedule")):
        group = sorted(group, key=lambda e: e["segments"])
        best = min(group, key=lambda e: e["relmse"])
        advice.append({"model": model, "use": use, "schedule": schedule, "best_n": best["segments"],
                       "relmse_at_best_n": best["relmse"], "largest_n": group[-1]["segments"],
                       "still_falling": best["segments"] == group[-1]["segments"]})
    n8 = [e for e in comparison if e["segments"] == 8]
    return {"comparison": comparison, "n8": n8, "winners": winners, "advice": advice}


def figures(rows: list[dict], out_dir: Path) -> list[Path]:
    """Per model: ``errors_<model>.png`` (relMSE against n, one panel per use, one line per schedule) and
    ``grids_<model>.png`` (the calibrated Â(t) curve, and every schedule's n = 8 grid placed on it: each grid
    point at its Â, so a stability-balanced grid is evenly spaced)."""
    from ..plots import pyplot, save_figure

    plt = pyplot()
    written = []
    table = tables(rows)["comparison"]
    colours = {schedule: f"C{k}" for k, schedule in enumerate(SCHEDULES)}
    for model in sorted({r["model"] for r in rows}):
        uses = sorted({e["use"] for e in table if e["model"] == model})
        fig, axes = plt.subplots(1, len(uses), figsize=(3.3 * len(uses) + 1.4, 3.4), squeeze=False)
        for ax, use in zip(axes[0], uses):
            for schedule in SCHEDULES:
                pts = sorted((e["segments"], e["relmse"]) for e in table
                             if e["model"] == model and e["use"] == use and e["schedule"] == schedule)
                if pts:
                    ax.plot(*zip(*pts), marker="o", ms=3, lw=1.2, color=colours[schedule], label=schedule)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("steps / segments n")
            ax.set_title(use, fontsize=9)
        axes[0][0].set_ylabel("relMSE to the fine teacher")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="center right", frameon=False, fontsize=7)
        fig.suptitle(f"{model}: error against n", fontsize=10)
        written.append(save_figure(fig, Path(out_dir) / f"errors_{model}.png", dpi=120,
                                   rect=(0, 0, 1 - 1.3 / fig.get_figwidth(), 1)))
        curve = next((r for r in rows if r["model"] == model and r.get("curve_t")), None)
        grids = {r["schedule"]: r for r in rows if r["model"] == model and int(r["segments"]) == 8 and r.get("grid_A")}
        if curve is None or not grids:
            continue
        fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.8), gridspec_kw={"width_ratios": [1.1, 1]})
        left.plot(curve["curve_t"], curve["curve_A"], color="0.3", lw=1.4)
        left.set_xscale("symlog", linthresh=max(min(t for t in curve["curve_t"] if t > 0), 1e-9))
        left.set_xlabel("process time t")
        left.set_ylabel("Â(t) (calibrated, mean over trajectories)")
        left.set_title("measured stability coordinate", fontsize=9)
        names = [s for s in SCHEDULES if s in grids]
        for k, schedule in enumerate(names):
            left.plot(grids[schedule]["grid"], grids[schedule]["grid_A"], "o", ms=3, color=colours[schedule])
            right.plot(grids[schedule]["grid_A"], [k] * len(grids[schedule]["grid_A"]), "o-", ms=4, lw=0.6,
                       color=colours[schedule])
        right.set_yticks(range(len(names)), names, fontsize=8)
        right.invert_yaxis()
        right.set_xlabel("Â at the grid points (equal spacing = equal stability shares)")
        right.set_title("n = 8 grids in the stability coordinate", fontsize=9)
        fig.suptitle(f"{model}: every schedule's grid on the measured Â(t)", fontsize=10)
        written.append(save_figure(fig, Path(out_dir) / f"grids_{model}.png", dpi=120))
    return written


SECONDS_PER_EVALUATION = {"digits": 30.0 / (44 * 5 * 256), "mixture": 1.0 / (44 * 5 * 256)}
"""Measured seconds per sampled row and sampler step of each model (a quick-preset sampling run: 44 steps of
5 evaluations on 256 rows took about 30 s on the digits UNet and 1 s on the exact mixture, 2 shared cores)."""
SECONDS_PER_TRAINING_MAC = 8.0 / (2000 * 256 * 3 * mlp_work(64, 256, 3))
"""Measured: 2000 student steps of batch 256, width 256, depth 3 (forward + backward ≈ 3 passes) took 8 s."""


def _work(config: ModelGridsConfig) -> float:
    """Estimated seconds of one run: its sampler evaluations, or its students' training (shared artefacts such
    as the teacher pool are computed once per model and not counted)."""
    if config.task == "distillation":
        dim = 64 if config.model == "digits" else config.dim
        return (SECONDS_PER_TRAINING_MAC * 3 * config.total_train_steps * config.batch
                * mlp_work(dim, config.width, config.depth) * len(config.segments))
    evaluations = sum(config.segments) * sum(2 if s == "heun" else 1 for s in config.samplers)
    return SECONDS_PER_EVALUATION[config.model] * evaluations * config.eval_samples


STUDY = Study(STUDY_NAME, ModelGridsConfig, run, {"quick": quick, "paper": paper},
              group_by=("model", "task", "schedule", "segments", "sampler"), metrics=("relmse", "fd", "nfe"),
              figures=figures, tables=tables,
              description="Time grids side by side on the reference DDPM and the exact mixture: few-step sampling "
                          "and segment distillation against the schedules people use.",
              cost=scaled_cost(_work, ModelGridsConfig(**QUICK_SETTINGS), _work(ModelGridsConfig(**QUICK_SETTINGS))),
              cost_basis="measured sampler and training speeds on 2 shared cores; the shared teacher runs and "
                         "calibrations of each model come on top")
