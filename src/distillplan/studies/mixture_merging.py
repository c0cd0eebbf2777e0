"""Study ``mixture-merging``: operator merging beyond the linear regime (paper 1, Gaussian-mixture data).

Data is an isotropic Gaussian mixture ``x0 ~ Σ_k π_k N(μ_k, σ0² I)`` (the paper's means, uniform in
``[−box, box]^d`` from torch seed ``means_seed``, centred, equal weights) under the VP teacher of
paper 1 (cosine schedule, T steps) with the *exact* mixture denoiser and DDIM steps
(:mod:`distillplan.merging.vp_mixture`, torch twin :mod:`distillplan.merging.mixture_ddim`). Three parts
(``parts``), each a kind of row (column ``part``):

1. ``branches`` — the k-step composite teacher is a gated mixture of up to ``K^k`` affine branches
   (one per sequence of gate components). For samples ``z_a ~ p_a`` the dominant component
   ``argmax_k γ_k`` of every step indexes a branch; per window of k steps (``anchor='data'``:
   ``[k → 0]``; ``'noise'``: ``[T → T−k]``) rows give the distinct branches, those holding at least
   ``mass_threshold`` of the samples (``massive``), the effective number ``exp(entropy)``, ``K^k``,
   and ``hard_gate_relmse``: the relative MSE of the hard-gated branch map (every gate frozen at its
   dominant component) against the exact soft-gated composite.
2. ``merge_k`` — a fixed-capacity MLP student (same width/depth and training budget for every k) is
   trained from scratch on fresh samples of ``p_a`` to reproduce the exact k-step composite of the
   same windows; ``relmse`` = Σ|student − teacher|² / Σ|teacher|² on held-out samples of ``p_a``;
   ``affine_relmse`` is the best affine map (least squares) for comparison.
3. ``plans`` — each canonical plan (vanilla, progressive, BOOT, consistency) and the linear-optimal
   plan (:func:`distillplan.linear.optimal_plan` on a :class:`~distillplan.linear.LinearTeacher` with
   ``λ_i`` = the mixture's per-coordinate variance, merge model ``MergeModel(budget)``) is
   distilled stage by stage with MLP students: children before parents, each student warm-started
   from its first child's weights (a leaf's "weights" are a leaf student pre-trained on that single
   teacher step: the student that copies the teacher) and trained toward the composition of its
   children (exact teacher steps for leaves, the trained students otherwise), with the same
   per-stage budget. ``node`` rows: each node's ``relmse`` against the exact teacher composite of
   its interval, ``target_relmse`` (the error already in its target, inherited from its children),
   its ``height`` (merge depth: 1 when all children are leaves) and the linear model's prediction for
   the same node (``lin_dev`` = mean_i |M_i − P_i| / P_i, ``lin_relmse`` = Σ_i r²_{a,i}(M_i − P_i)² /
   Σ_i r²_{a,i} P_i², the linear analogue of ``relmse``). ``plan`` rows: the one-step (root) error
   per plan beside the linear ``lin_w2`` (W2 to the surrogate, :func:`~distillplan.linear.evaluate_plan`),
   ``lin_w2_data`` and the root's ``lin_relmse``. ``leaf`` rows: the leaf students' own errors.

Students are ``z + MLP(z)`` (``residual=True``) or ``MLP(z)`` with :class:`distillplan.nn.MLP`;
Adam, learning rate ``lr`` cosine-decayed to ``lr/10``, ``train_steps`` steps of ``batch`` fresh
samples per stage. Nodes shared by several plans (same subtree) are trained once per run (their
seeds depend on the subtree only).

The linear model's ``lin_*`` columns use the nominal optimization time ``budget`` (s = 6.4);
it is not calibrated to the MLP's Adam budget, so compare their trends and plan rankings, not their
magnitudes.

Presets: ``quick`` — d = 2, K = 4, T = 8, two data geometries (box 5, σ0 = 1: λ ≈ 3.8–9.4, the
vanilla regime of the linear model; box 1.5, σ0 = 0.3: λ ≈ 0.34–0.85, its BOOT regime), MLP 2 × 64,
400 Adam steps × 256 samples per stage, seeds 0–1: about 1 minute per run alone on one core;
the whole preset (4 runs, 2 workers) took 1 min 26 s wall (162 CPU-seconds) on 2 idle cores and 9 minutes on
2 heavily shared ones. ``paper`` — d = 64, K = 20, T = 32 (the
paper-2 data: box 5, σ0 = 1, λ ≈ 6.2–14.1; and box 1.5, σ0 = 0.3, λ ≈ 0.56–1.27, the transition
zone), MLP 4 × 512, 2000 steps × 1024 per stage, lr 1e−3, 65 536 branch samples, seeds 0–2,
``device='cuda'``. Measured on one H100 with 500 steps per stage: 5 minutes per run (branches 27 s
on the CPU, 12 k-windows 51 s, 31 leaves + 4 plans ≈ 120 stages 215 s, about 3.6 ms per step), so
about 17 minutes per run and 1.7 hours for the preset at 2000 steps (the box-1.5 optimal plan comes
from the Pareto DP, about 40 s on the CPU).

Measured, ``quick`` (means of seeds 0–1; window anchored at the data, k = 1 … 8):

* branches: distinct gate sequences 4, 7, 10, 14.5, 22.5, 31.5, 46.5, 48 (box 5) and 4, 9, 15.5,
  24.5, 36, 50, 60, 62.5 (box 1.5) of K^k = 4 … 65 536; those holding ≥ 1% of the samples 4, 6, 8,
  9.5, 13, 16.5, 24.5, 25.5 and 4, 7, 11.5, 15, 20, 31, 35, 38;
* fixed-capacity merge error grows with k: 4.3e−5 → 5.5e−3 (box 5) and 5.8e−5 → 1.3e−3 (box 1.5),
  while the best affine map goes 7.6e−5 → 0.084 and 5.8e−3 → 0.11;
* errors amplify along merge depth in every multi-stage plan, consistency steepest (box 5: 7.7e−6 at
  height 1 to 9.4e−3 at height 7; BOOT 4.6e−5 → 3.3e−4);
* one-step root error by plan, trained vs the linear model's W2: box 1.5 (λ 0.34–0.85, BOOT regime)
  boot 1.8e−4 < progressive 7.7e−4 < vanilla 1.1e−3 < consistency 2.7e−3 against boot 6.7e−4 < vanilla
  8.8e−4 < progressive 1.3e−3 < consistency 3.6e−3: the linear optimum (= BOOT) is also the trained
  winner. Box 5 (λ 3.8–9.4, vanilla regime): the linear optimum is vanilla (W2 2.5e−3), but trained
  vanilla scores 7.4e−3 against BOOT's 3.3e−4, so the linear ranking fails for λ ≫ 1 with MLP students.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..errors import DistillPlanError, check_int_at_least
from ..linear import LinearTeacher, MergeModel, Plan, evaluate_plan, optimal_plan
from ..linear.strategies import STRATEGIES, canonical_plan
from ..merging.plan_students import Stage, distill_stages
from ..merging.vp_mixture import branch_map, branch_statistics, centred, composite, coordinate_variances
from ..mixture import IsotropicMixture
from ..plots import STRATEGY_COLOURS, label_axes, pyplot, save_figure
from ..runner import Study, Sweep, aggregate
from ._kit import (ACTIVATION, BOOL, MAX_SAMPLES, MAX_STEPS, EvaluationSpec, Int, MergeSpec, MixtureSpec,
                   OptimiserSpec, Real, RuntimeSpec, SubsetOf, mlp_work, scaled_cost)

__all__ = ["MixtureMergingConfig", "run", "quick", "paper", "STUDY", "PARTS", "PLANS", "ANCHORS",
           "make_mixture", "Student", "window", "linear_node_predictions", "branch_table", "error_vs_k_table",
           "error_vs_depth_table", "plan_table", "figures"]

PARTS = ("branches", "merge_k", "plans")
PLANS = (*STRATEGIES, "optimal")
ANCHORS = ("data", "noise")


class _WindowLengths:
    """``None`` (the default lengths) or a non-empty list of window lengths k ≥ 1, sorted and deduplicated."""

    def check(self, name: str, value: Any) -> tuple[int, ...] | None:
        if value is None:
            return None
        ks = (value,) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else None
        if not ks:
            raise DistillPlanError(name, f"needs at least one window length (or none for the default), got {value!r}")
        return tuple(sorted({check_int_at_least(name, k, 1) for k in ks}))

    def __str__(self) -> str:
        return "none or window lengths 1..T"


@dataclass(frozen=True)
class MixtureMergingConfig(MixtureSpec, MergeSpec, OptimiserSpec, EvaluationSpec, RuntimeSpec):
    """One data geometry, teacher and student budget; every field is validated on construction.

    The teacher runs ``teacher_steps`` DDIM steps on the ``schedule``; ``budget`` is the linear model's
    optimization time s for the ``lin_*`` predictions. ``ks`` (window lengths k for parts 1–2): ``None``
    means 1..T when T ≤ 8, else the powers of two up to T and T itself.
    """

    teacher_steps: int = 8
    dim: int = 2
    components: int = 4
    ks: tuple[int, ...] | None = None
    anchors: tuple[str, ...] = ANCHORS
    parts: tuple[str, ...] = PARTS
    strategies: tuple[str, ...] = PLANS
    branch_samples: int = 8192
    mass_threshold: float = 1e-3
    width: int = 64
    depth: int = 2
    activation: str = "relu"
    residual: bool = True
    train_steps: int = 400
    batch: int = 256
    lr: float = 3e-3
    grad_clip: float | None = None
    eval_samples: int = 4096

    RANGES: ClassVar[dict[str, Any]] = dict(
        teacher_steps=Int(2, 1024), ks=_WindowLengths(), anchors=SubsetOf(ANCHORS), parts=SubsetOf(PARTS),
        strategies=SubsetOf(PLANS), branch_samples=Int(1, MAX_SAMPLES), mass_threshold=Real(0.0, 1.0),
        width=Int(1, 16384), depth=Int(1, 64), activation=ACTIVATION, residual=BOOL, train_steps=Int(0, MAX_STEPS),
        eval_samples=Int(2, MAX_SAMPLES))

    def check(self) -> None:
        if self.ks is not None and max(self.ks) > self.teacher_steps:
            raise DistillPlanError("ks", f"window lengths must be <= T={self.teacher_steps}, got {max(self.ks)}")

    def window_lengths(self) -> tuple[int, ...]:
        if self.ks is not None:
            return self.ks
        T = self.teacher_steps
        if T <= 8:
            return tuple(range(1, T + 1))
        return tuple(sorted({2**j for j in range(T.bit_length()) if 2**j <= T} | {T}))


def make_mixture(config: MixtureMergingConfig) -> IsotropicMixture:
    """The paper's means (:func:`~distillplan.mixture.paper_means`), equal weights, centred."""
    return centred(config.mixture())


def window(config: MixtureMergingConfig, anchor: str, k: int) -> tuple[int, int]:
    """``(a, b)`` of the k-step window: ``[k → 0]`` (data) or ``[T → T−k]`` (noise)."""
    T = config.teacher_steps
    return (k, 0) if anchor == "data" else (T, T - k)


# ------------------------------------------------------------------------------ linear model


def linear_node_predictions(plan: Plan, teacher: LinearTeacher, model: MergeModel) -> dict[str, dict]:
    """Per internal node (by its bracket text): the merge model's value M, the teacher composite P,
    ``lin_dev`` = mean_i |M_i − P_i|/P_i and ``lin_relmse`` = Σ r²_a (M − P)² / Σ r²_a P²."""
    out: dict[str, dict] = {}
    for node in plan.nodes():  # children before parents
        M = model.merge(teacher, node.start, node.end,
                        [teacher.step[c] if isinstance(c, int) else out[c.to_text()]["M"] for c in node.children])
        P = teacher.composite(node.start, node.end)
        r2 = teacher.r2[node.start]
        out[node.to_text()] = {
            "M": M, "P": P, "lin_dev": float(np.mean(np.abs(M - P) / np.abs(P))),
            "lin_relmse": float(np.sum(r2 * (M - P) ** 2) / np.sum(r2 * P * P)),
        }
    return out


# ------------------------------------------------------------------------------ training


class _Runner:
    """Holds the teacher, the evaluation sets and the trained students of one run."""

    def __init__(self, config: MixtureMergingConfig, seed: int, device: torch.device):
        from ..merging.mixture_ddim import MixtureDDIM

        self.config = config
        self.seed = int(seed)
        self.device = device
        self.mixture = make_mixture(config)
        self.schedule = config.vp_schedule()
        self.teacher = MixtureDDIM(self.mixture, self.schedule, device=self.device, dtype=torch.float32)
        self._eval_inputs: dict[int, torch.Tensor] = {}
        self._eval_targets: dict[tuple[int, int], torch.Tensor] = {}

    # -- streams and evaluation sets ------------------------------------------------------
    def generator(self, purpose: str, *key: int | str, device=None) -> torch.Generator:
        from ..nn.streams import make_generator

        return make_generator(purpose, self.seed, *key, device=self.device if device is None else device)

    def eval_inputs(self, a: int) -> torch.Tensor:
        if a not in self._eval_inputs:
            gen = self.generator("eval", self.config.eval_seed, a)
            self._eval_inputs[a] = self.teacher.sample(a, self.config.eval_samples, gen)
        return self._eval_inputs[a]

    def eval_targets(self, a: int, b: int) -> torch.Tensor:
        if (a, b) not in self._eval_targets:
            with torch.no_grad():
                self._eval_targets[(a, b)] = self.teacher.composite(self.eval_inputs(a), a, b)
        return self._eval_targets[(a, b)]

    def relmse(self, fn, a: int, b: int) -> float:
        """Σ|fn(z) − teacher(z)|² / Σ|teacher(z)|² on the held-out samples of ``p_a``."""
        from ..nn.metrics import relative_mse

        with torch.no_grad():
            return relative_mse(fn(self.eval_inputs(a)), self.eval_targets(a, b))

    # -- students -------------------------------------------------------------------------
    def new_student(self, *key: int | str) -> "Student":
        from ..nn.students import MLP

        c = self.config
        mlp = MLP(self.mixture.dim, c.width, c.depth, c.activation, generator=self.generator("init", *key, device="cpu"))
        return Student(mlp, c.residual).to(self.device)

    def train(self, student: nn.Module, a: int, target_fn, *key: int | str) -> dict:
        """The one training loop (:func:`distillplan.nn.train`) on fresh samples of ``p_a`` toward ``target_fn``,
        loss ``mean_batch ||student(z) − target(z)||²``, lr cosine-decayed to lr/10; returns timing and loss."""
        from ..nn.fit import train

        c = self.config
        start = time.perf_counter()
        final_loss = math.nan
        if c.train_steps > 0:
            gen = self.generator("data", *key)

            def step_loss(step: int) -> torch.Tensor:
                z = self.teacher.sample(a, c.batch, gen)
                with torch.no_grad():
                    y = target_fn(z)
                return ((student(z) - y) ** 2).sum(-1).mean().reshape(1)

            final_loss = train(student, step_loss, c.settings(c.train_steps, lr_floor=0.1)).final_loss[0]
        student.eval()
        student.requires_grad_(False)
        return {"train_s": time.perf_counter() - start, "final_loss": final_loss}

    # -- part 1 ---------------------------------------------------------------------------
    def branches(self) -> list[dict]:
        c = self.config
        K = self.mixture.components
        rows = []
        for anchor in c.anchors:
            for k in c.window_lengths():
                a, b = window(c, anchor, k)
                with torch.no_grad():
                    z = self.teacher.sample(a, c.branch_samples, self.generator("probe", "branches", a))
                # float64 numpy reference: the soft composite, and the dominant gate of every step
                z64 = z.double().cpu().numpy()
                exact, seq = composite(self.mixture, self.schedule, z64, a, b, record=True)
                stats = branch_statistics(seq, c.mass_threshold)
                hard = branch_map(self.mixture, self.schedule, z64, a, seq)
                rows.append({
                    "part": "branches", "anchor": anchor, "k": k, "start": a, "end": b,
                    "distinct": stats.distinct, "massive": stats.massive, "effective": stats.effective,
                    "top_mass": stats.top_mass, "max_branches": float(K) ** k, "log10_max_branches": k * math.log10(K),
                    "samples": stats.samples,
                    "hard_gate_relmse": float(((hard - exact) ** 2).sum() / (exact**2).sum()),
                })
        return rows

    # -- part 2 ---------------------------------------------------------------------------
    def merge_k(self) -> list[dict]:
        c = self.config
        rows = []
        for anchor in c.anchors:
            for k in c.window_lengths():
                a, b = window(c, anchor, k)
                key = ("merge_k", a, b)
                student = self.new_student(*key)
                info = self.train(student, a, lambda z, a=a, b=b: self.teacher.composite(z, a, b), *key)
                rows.append({
                    "part": "merge_k", "anchor": anchor, "k": k, "start": a, "end": b,
                    "relmse": self.relmse(student, a, b), "affine_relmse": self.affine_relmse(a, b), **info,
                })
        return rows

    def affine_relmse(self, a: int, b: int) -> float:
        """Held-out relMSE of the least-squares affine map ``z_a ↦ z_b`` (fit on its own samples)."""
        from ..nn.metrics import affine_fit

        with torch.no_grad():
            n = max(self.config.eval_samples, 4 * (self.mixture.dim + 1))
            z = self.teacher.sample(a, n, self.generator("probe", "affine", a))
            weight, bias = affine_fit(z, self.teacher.composite(z, a, b))
            return self.relmse(lambda inp: inp.double() @ weight + bias, a, b)

    # -- part 3 ---------------------------------------------------------------------------
    def plans(self) -> list[dict]:
        c = self.config
        T = c.teacher_steps
        lam = coordinate_variances(self.mixture)
        lt = LinearTeacher(self.schedule, lam)
        model = c.model()
        plans: dict[str, Plan] = {}
        extra: dict[str, dict] = {}
        for name in c.strategies:
            if name == "optimal":
                opt = optimal_plan(lt, model)
                plans[name] = opt.plan
                equals = next((s for s in STRATEGIES if canonical_plan(s, T) == opt.plan), None)
                extra[name] = {"solver": opt.solver, "certified": bool(opt.certified), "equals": equals or "none"}
            else:
                plans[name] = canonical_plan(name, T)
        rows: list[dict] = []

        # leaf students: each copies one teacher step (the warm start of nodes whose first child is a leaf)
        leaves: dict[int, nn.Module] = {}
        needed = sorted({n.children[0] for p in plans.values() for n in p.nodes() if isinstance(n.children[0], int)},
                        reverse=True)
        for t in needed:
            student = self.new_student("leaf", t)
            info = self.train(student, t, lambda z, t=t: self.teacher.step(z, t), "leaf", t)
            leaves[t] = student
            rows.append({"part": "leaf", "start": t, "end": t - 1, "length": 1, "height": 0,
                         "relmse": self.relmse(student, t, t - 1), **info})

        def train_stage(student: nn.Module, node: Plan, target) -> dict:
            a, b = node.start, node.end
            init_err, target_err = self.relmse(student, a, b), self.relmse(target, a, b)
            info = self.train(student, a, target, node.to_text())
            return {"relmse": self.relmse(student, a, b), "target_relmse": target_err, "init_relmse": init_err, **info}

        def step(t: int):
            return lambda z: self.teacher.step(z, t)

        stages: dict[str, Stage] = {}
        for name, plan in plans.items():
            distill_stages(plan, step, leaves.__getitem__, train_stage, stages)
            lin = linear_node_predictions(plan, lt, model)
            ev = evaluate_plan(plan, lt, model)
            for node in plan.nodes():
                text = node.to_text()
                child_err = [stages[ch.to_text()].info["relmse"] for ch in node.children if isinstance(ch, Plan)]
                rows.append({
                    "part": "node", "plan": name, "node": text, "start": node.start, "end": node.end,
                    "length": node.start - node.end, "height": node.depth, "children": len(node.children),
                    "is_root": node is plan, "max_child_relmse": max(child_err) if child_err else 0.0,
                    "lin_dev": lin[text]["lin_dev"], "lin_relmse": lin[text]["lin_relmse"], **stages[text].info,
                })
            root = stages[plan.to_text()].info
            rows.append({
                "part": "plan", "plan": name, "plan_text": plan.to_text(), "stages": plan.stages,
                "height": plan.depth, "relmse": root["relmse"], "lin_relmse": lin[plan.to_text()]["lin_relmse"],
                "lin_dev": lin[plan.to_text()]["lin_dev"], "lin_w2": ev.w2, "lin_w2_data": ev.w2_data,
                "lam_min": float(lam.min()), "lam_max": float(lam.max()), **extra.get(name, {}),
            })
        return rows


class Student(nn.Module):
    """A student ``z + MLP(z)`` (``residual``) or ``MLP(z)``; the MLP is :class:`distillplan.nn.MLP`."""

    def __init__(self, mlp: nn.Module, residual: bool):
        super().__init__()
        self.mlp = mlp
        self.residual = residual

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.mlp(z)
        return z + out if self.residual else out


def run(config: MixtureMergingConfig, seed: int) -> list[dict]:
    """All requested parts for one seed; rows are tagged by ``part`` (see the module docstring)."""
    with config.runtime() as (device, _):
        runner = _Runner(config, seed, device)
        rows: list[dict] = []
        for part in PARTS:
            if part in config.parts:
                start = time.perf_counter()
                part_rows = getattr(runner, part)()
                elapsed = time.perf_counter() - start
                for r in part_rows:
                    r["part_s"] = elapsed
                rows += part_rows
    return rows


# ---------------------------------------------------------------------------------- reports

_SETTING = ("teacher_steps", "dim", "components", "box", "sigma0", "width", "depth", "train_steps")


def _setting_rows(rows: list[dict], part: str) -> list[dict]:
    return [r for r in rows if r.get("part") == part]


def branch_table(rows: list[dict]) -> list[dict]:
    """Branch counts per (setting, anchor, k), mean ± std over seeds."""
    return aggregate(_setting_rows(rows, "branches"), (*_SETTING, "anchor", "k", "start", "end"),
                     ("distinct", "massive", "effective", "top_mass", "max_branches", "hard_gate_relmse"))


def error_vs_k_table(rows: list[dict]) -> list[dict]:
    """Fixed-capacity MLP (and best affine) relMSE of the k-step composite per (setting, anchor, k)."""
    return aggregate(_setting_rows(rows, "merge_k"), (*_SETTING, "anchor", "k", "start", "end"),
                     ("relmse", "affine_relmse", "final_loss", "train_s"))


def error_vs_depth_table(rows: list[dict]) -> list[dict]:
    """Per (setting, plan, merge depth): node relMSE averaged over the nodes of that depth in each
    seed, then mean ± std over seeds; beside it the linear model's prediction for those nodes."""
    per_seed: dict[tuple, list[dict]] = {}
    for r in _setting_rows(rows, "node"):
        per_seed.setdefault((*(r.get(k) for k in _SETTING), r["plan"], r["height"], r.get("seed")), []).append(r)
    flat = []
    for key, members in per_seed.items():
        flat.append({**dict(zip((*_SETTING, "plan", "height", "seed"), key)), "nodes": len(members),
                     **{m: float(np.mean([x[m] for x in members]))
                        for m in ("relmse", "target_relmse", "max_child_relmse", "length", "lin_relmse", "lin_dev")}})
    table = aggregate(flat, (*_SETTING, "plan", "height"),
                      ("nodes", "length", "relmse", "target_relmse", "max_child_relmse", "lin_relmse", "lin_dev"))
    order = {p: i for i, p in enumerate(PLANS)}
    return sorted(table, key=lambda r: (tuple(str(r[k]) for k in _SETTING), order.get(r["plan"], 99), r["height"]))


def plan_table(rows: list[dict]) -> list[dict]:
    """One-step (root) error per plan beside the linear model's prediction."""
    table = aggregate(_setting_rows(rows, "plan"), (*_SETTING, "plan", "plan_text"),
                      ("stages", "relmse", "lin_relmse", "lin_dev", "lin_w2", "lin_w2_data", "lam_min", "lam_max"))
    order = {p: i for i, p in enumerate(PLANS)}
    return sorted(table, key=lambda r: (tuple(str(r[k]) for k in _SETTING), order.get(r["plan"], 99)))


def figures(rows: list[dict], out_dir: Path) -> list[Path]:
    """Per setting: branches vs k, error vs k, error vs merge depth per plan (with the linear
    prediction, dashed) and the one-step error per plan."""
    plt = pyplot()
    out_dir = Path(out_dir)
    settings = sorted({tuple(r.get(k) for k in _SETTING) for r in rows}, key=lambda s: tuple(str(v) for v in s))
    tables = {"branches": branch_table(rows), "k": error_vs_k_table(rows), "depth": error_vs_depth_table(rows),
              "plans": plan_table(rows)}
    written = []
    for setting in settings:
        def mine(table):
            return [r for r in table if tuple(r.get(k) for k in _SETTING) == setting]

        cfg = dict(zip(_SETTING, setting))
        br, ek, dp, pl = (mine(tables[n]) for n in ("branches", "k", "depth", "plans"))
        if not (br or ek or dp or pl):
            continue
        fig, axes = plt.subplots(1, 4, figsize=(19, 4.2))
        ax = axes[0]
        for anchor, ls in (("data", "-"), ("noise", "--")):
            sub = sorted((r for r in br if r["anchor"] == anchor), key=lambda r: r["k"])
            if sub:
                ks = [r["k"] for r in sub]
                ax.plot(ks, [r["massive_mean"] for r in sub], "o" + ls, color="C0", label=f"≥ thr mass ({anchor})")
                ax.plot(ks, [r["effective_mean"] for r in sub], "s" + ls, color="C1", label=f"exp(entropy) ({anchor})")
        if br:
            ks = sorted({r["k"] for r in br})
            ax.plot(ks, [cfg["components"] ** k for k in ks], ":", color="0.4", label="K^k")
            top = max(max(r["distinct_mean"] for r in br) * 4, 10)
            ax.set_ylim(0.8, top)
        label_axes(ax, xlabel="k (merged teacher steps)", ylabel="affine branches", grid=False,
                   title="branches of the k-step composite", legend_size=7, legend_frame=False)

        ax = axes[1]
        for anchor, ls in (("data", "-"), ("noise", "--")):
            sub = sorted((r for r in ek if r["anchor"] == anchor), key=lambda r: r["k"])
            if sub:
                ks = [r["k"] for r in sub]
                ax.errorbar(ks, [r["relmse_mean"] for r in sub], yerr=_std(sub, "relmse"), fmt="o" + ls, color="C2",
                            label=f"MLP ({anchor})", capsize=2)
                ax.plot(ks, [r["affine_relmse_mean"] for r in sub], "x" + ls, color="0.5", label=f"best affine ({anchor})")
        label_axes(ax, xlabel="k", ylabel="relative MSE vs exact composite", title="fixed-capacity student vs k",
                   grid=False, legend_size=7, legend_frame=False)
        positive = [v for r in ek for v in (r["relmse_mean"], r["affine_relmse_mean"]) if v > 0]
        if positive:  # an exactly affine step (t = T) fits to rounding: keep the axis on the errors that matter
            ax.set_ylim(bottom=max(min(positive), 1e-9) / 2)

        ax = axes[2]
        lin_ax = ax.twinx()
        for plan in PLANS:
            sub = sorted((r for r in dp if r["plan"] == plan), key=lambda r: r["height"])
            if not sub:
                continue
            h = [r["height"] for r in sub]
            hollow = plan == "optimal"  # the optimum usually equals a canonical plan: draw it open, on top
            ax.errorbar(h, [r["relmse_mean"] for r in sub], yerr=_std(sub, "relmse"), fmt="o-", color=STRATEGY_COLOURS[plan],
                        label=plan, capsize=2, ms=9 if hollow else 4, mfc="none" if hollow else None,
                        lw=0.8 if hollow else 1.5, zorder=3 if hollow else 2)
            lin_ax.plot(h, [max(r["lin_relmse_mean"], 1e-300) for r in sub], "x--", color=STRATEGY_COLOURS[plan], lw=1, ms=4)
        lin_ax.set_yscale("log")
        lin_ax.set_ylabel("linear-model node relMSE (dashed)")
        label_axes(ax, xlabel="merge depth (node height)", ylabel="MLP node relMSE vs teacher composite (solid)",
                   title="error vs merge depth", grid=False, legend_size=7, legend_frame=False)

        ax = axes[3]
        names = [r["plan"] for r in pl]
        x = np.arange(len(names))
        if pl:
            mlp = np.array([r["relmse_mean"] for r in pl])
            lin = np.array([r["lin_relmse_mean"] for r in pl])
            w2 = np.array([r["lin_w2_mean"] for r in pl])
            ax.bar(x - 0.27, mlp / mlp.min(), 0.27, label="MLP students: relMSE", color="C2")
            ax.bar(x, lin / max(lin.min(), 1e-300), 0.27, label="linear model: relMSE", color="0.6")
            ax.bar(x + 0.27, w2 / max(w2.min(), 1e-300), 0.27, label="linear model: W2", color="0.3")
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_xticks(x, names, rotation=20, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("one-step error / best plan's")
        ax.set_title("final one-step error per plan")
        ax.legend(frameon=False, fontsize=7)

        fig.suptitle("mixture merging: " + ", ".join(f"{k}={v}" for k, v in cfg.items()), fontsize=9)
        name = "mixture_merging_T{teacher_steps}_d{dim}_K{components}_box{box:g}_s{sigma0:g}_w{width}x{depth}_n{train_steps}.png"
        path = save_figure(fig, out_dir / name.format(**cfg), dpi=110)
        written.append(path)
    return written


def _std(table, metric):
    return [0.0 if not np.isfinite(r[f"{metric}_std"]) else r[f"{metric}_std"] for r in table]


def quick() -> Sweep:
    base = dict(teacher_steps=8, dim=2, components=4, width=64, depth=2, train_steps=400, batch=256, branch_samples=8192,
                eval_samples=4096)
    configs = [MixtureMergingConfig(**base, box=5.0, sigma0=1.0), MixtureMergingConfig(**base, box=1.5, sigma0=0.3)]
    return Sweep("mixture-merging", configs, seeds=(0, 1))


def paper() -> Sweep:
    base = dict(teacher_steps=32, dim=64, components=20, width=512, depth=4, train_steps=2000, batch=1024,
                branch_samples=65536, eval_samples=16384, lr=1e-3, device="cuda")
    configs = [MixtureMergingConfig(**base, box=5.0, sigma0=1.0), MixtureMergingConfig(**base, box=1.5, sigma0=0.3)]
    return Sweep("mixture-merging", configs, seeds=(0, 1, 2))


def tables(rows: list[dict]) -> dict[str, list[dict]]:
    """``branches``, ``error_vs_k``, ``error_vs_depth`` and ``plans`` (see each table function)."""
    return {"branches": branch_table(rows), "error_vs_k": error_vs_k_table(rows),
            "error_vs_depth": error_vs_depth_table(rows), "plans": plan_table(rows)}


def _work(config: MixtureMergingConfig) -> float:
    """Multiply-adds of training every stage (about five per teacher step over the plans, plus the k-windows)."""
    stages = 5 * config.teacher_steps + len(config.window_lengths()) * len(config.anchors)
    return stages * config.train_steps * config.batch * 3 * mlp_work(config.dim, config.width, config.depth)

STUDY = Study("mixture-merging", MixtureMergingConfig, run, {"quick": quick, "paper": paper},
              group_by=(*_SETTING, "part", "anchor", "k", "plan", "height"),
              metrics=("distinct", "massive", "effective", "hard_gate_relmse", "relmse", "affine_relmse",
                       "target_relmse", "lin_relmse", "lin_dev", "lin_w2"),
              figures=figures, tables=tables,
              description="Gaussian-mixture teacher: branch counts, fixed-capacity error vs k, error amplification "
                          "per plan.",
              cost=scaled_cost(_work, quick().configs[0], 12), cost_basis="scaled from a measured quick-preset run on 2 shared Xeon cores")
