"""Study ``mixture-merging`` (issue 5, item 4): operator merging beyond the linear regime.

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
   ``λ_i`` = the mixture's per-coordinate variance, merge model ``MergeModel(linear_budget)``) is
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

Students are ``z + MLP(z)`` (``residual=True``) or ``MLP(z)`` with :class:`distillplan.train.MLP`;
Adam, learning rate ``lr`` cosine-decayed to ``lr/10``, ``train_steps`` steps of ``batch`` fresh
samples per stage. Nodes shared by several plans (same subtree) are trained once per run (their
seeds depend on the subtree only).

The linear model's ``lin_*`` columns use the nominal optimization time ``linear_budget`` (s = 6.4);
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

import copy
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import DistillPlanError, check_int_at_least, check_nonnegative, check_positive
from ..linear import LinearTeacher, MergeModel, Plan, evaluate_plan, optimal_plan
from ..linear.strategies import STRATEGIES, canonical_plan
from ..mixture import IsotropicMixture, paper_means
from ..merging.vp_mixture import branch_map, branch_statistics, centred, composite, coordinate_variances
from ..plots import save_figure
from ..runner import Study, Sweep, aggregate
from ..schedules import VPSchedule
from ..nn.metrics import affine_fit

__all__ = ["MixtureMergingConfig", "run", "quick", "paper", "STUDY", "PARTS", "PLANS", "ANCHORS",
           "make_mixture", "Student", "window", "linear_node_predictions", "branch_table", "error_vs_k_table",
           "error_vs_depth_table", "plan_table", "figures"]

PARTS = ("branches", "merge_k", "plans")
PLANS = (*STRATEGIES, "optimal")
ANCHORS = ("data", "noise")

# stream tags for derived seeds (distinct from distillplan.train.seeding's 1..4)
_S_BRANCH, _S_EVAL, _S_INIT, _S_DATA, _S_FIT = 51, 52, 53, 54, 55


@dataclass(frozen=True)
class MixtureMergingConfig:
    """One data geometry, teacher and student budget; every field is validated on construction.

    ``ks`` (window lengths k for parts 1–2): ``None`` means 1..T when T ≤ 8, else the powers of two
    up to T and T itself. ``threads = 0``: automatic (:mod:`distillplan.train.runtime`).
    """

    steps: int = 8
    dim: int = 2
    components: int = 4
    means_seed: int = 0
    box: float = 5.0
    sigma0: float = 1.0
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
    eval_samples: int = 4096
    linear_budget: float = 6.4
    threads: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        from ..nn import ACTIVATIONS

        for name, minimum in (("steps", 2), ("dim", 1), ("components", 1), ("means_seed", 0),
                              ("branch_samples", 1), ("width", 1), ("depth", 1), ("train_steps", 0),
                              ("batch", 1), ("eval_samples", 2), ("threads", 0)):
            object.__setattr__(self, name, check_int_at_least(name, getattr(self, name), minimum))
        for name in ("box", "sigma0", "lr"):
            object.__setattr__(self, name, check_positive(name, getattr(self, name)))
        object.__setattr__(self, "linear_budget", check_nonnegative("linear_budget", self.linear_budget))
        thr = check_nonnegative("mass_threshold", self.mass_threshold)
        if thr > 1:
            raise DistillPlanError("mass_threshold", f"must lie in [0, 1], got {self.mass_threshold!r}")
        object.__setattr__(self, "mass_threshold", thr)
        if self.ks is not None:
            ks = (self.ks,) if isinstance(self.ks, int) else tuple(self.ks)
            if not ks:
                raise DistillPlanError("ks", "needs at least one window length (or None for the default)")
            ks = tuple(check_int_at_least("ks", k, 1) for k in ks)
            if max(ks) > self.steps:
                raise DistillPlanError("ks", f"window lengths must be <= T={self.steps}, got {max(ks)}")
            object.__setattr__(self, "ks", tuple(sorted(set(ks))))
        for name, allowed in (("anchors", ANCHORS), ("parts", PARTS), ("strategies", PLANS)):
            value = getattr(self, name)
            items = (value,) if isinstance(value, str) else tuple(value)
            bad = [v for v in items if v not in allowed]
            if bad or not items:
                raise DistillPlanError(name, f"unknown {bad}; choose a non-empty subset of {list(allowed)}")
            object.__setattr__(self, name, tuple(dict.fromkeys(items)))
        if self.activation not in ACTIVATIONS:
            raise DistillPlanError("activation", f"unknown activation {self.activation!r}; choose from {list(ACTIVATIONS)}")
        if not isinstance(self.residual, bool):
            raise DistillPlanError("residual", f"must be true or false, got {self.residual!r}")
        if not isinstance(self.device, str) or not self.device:
            raise DistillPlanError("device", f"must be a torch device name (cpu, cuda, cuda:1), got {self.device!r}")

    def window_lengths(self) -> tuple[int, ...]:
        if self.ks is not None:
            return self.ks
        T = self.steps
        if T <= 8:
            return tuple(range(1, T + 1))
        return tuple(sorted({2**j for j in range(T.bit_length()) if 2**j <= T} | {T}))

    def schedule(self) -> VPSchedule:
        return VPSchedule.cosine(self.steps)


def make_mixture(config: MixtureMergingConfig) -> IsotropicMixture:
    """The paper's means (:func:`~distillplan.mixture.paper_means`), equal weights, centred."""
    means = paper_means(config.components, config.dim, config.means_seed, box=config.box)
    return centred(IsotropicMixture.equal_weights(means, config.sigma0))


def window(config: MixtureMergingConfig, anchor: str, k: int) -> tuple[int, int]:
    """``(a, b)`` of the k-step window: ``[k → 0]`` (data) or ``[T → T−k]`` (noise)."""
    return (k, 0) if anchor == "data" else (config.steps, config.steps - k)


# ------------------------------------------------------------------------------ linear model


def linear_node_predictions(plan: Plan, teacher: LinearTeacher, model: MergeModel) -> dict[str, dict]:
    """Per internal node (by its bracket text): the merge model's value M, the teacher composite P,
    ``lin_dev`` = mean_i |M_i − P_i|/P_i and ``lin_relmse`` = Σ r²_a (M − P)² / Σ r²_a P²."""
    out: dict[str, dict] = {}

    def value(node) -> np.ndarray:
        if isinstance(node, int):
            return teacher.step[node]
        M = model.merge(teacher, node.start, node.end, [value(c) for c in node.children])
        P = teacher.composite(node.start, node.end)
        r2 = teacher.r2[node.start]
        out[node.to_text()] = {
            "M": M, "P": P, "lin_dev": float(np.mean(np.abs(M - P) / np.abs(P))),
            "lin_relmse": float(np.sum(r2 * (M - P) ** 2) / np.sum(r2 * P * P)),
        }
        return M

    value(plan)
    return out


# ------------------------------------------------------------------------------ training


def _node_key(text: str) -> int:
    """A stable non-negative integer for a subtree (its seeds depend on nothing else)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


class _Runner:
    """Holds the teacher, the evaluation sets and the trained students of one run."""

    def __init__(self, config: MixtureMergingConfig, seed: int):
        from ..merging.mixture_ddim import MixtureDDIM

        self.config = config
        self.seed = int(seed)
        self.device = _device(config.device)
        self.mixture = make_mixture(config)
        self.schedule = config.schedule()
        self.teacher = MixtureDDIM(self.mixture, self.schedule, device=self.device, dtype=torch.float32)
        self._eval_inputs: dict[int, object] = {}
        self._eval_targets: dict[tuple[int, int], object] = {}

    # -- generators and evaluation sets ---------------------------------------------------
    def generator(self, *key: int, device=None):
        from ..nn.streams import make_generator

        return make_generator(self.seed, *key, device=self.device if device is None else device)

    def eval_inputs(self, a: int):
        if a not in self._eval_inputs:
            self._eval_inputs[a] = self.teacher.sample(a, self.config.eval_samples, self.generator(_S_EVAL, a))
        return self._eval_inputs[a]

    def eval_targets(self, a: int, b: int):
        if (a, b) not in self._eval_targets:
            with torch.no_grad():
                self._eval_targets[(a, b)] = self.teacher.composite(self.eval_inputs(a), a, b)
        return self._eval_targets[(a, b)]

    def relmse(self, fn, a: int, b: int) -> float:
        """Σ|fn(z) − teacher(z)|² / Σ|teacher(z)|² on the held-out samples of ``p_a``."""
        with torch.no_grad():
            y = self.eval_targets(a, b)
            err = fn(self.eval_inputs(a)) - y
            return float((err.double() ** 2).sum() / (y.double() ** 2).sum())

    # -- students -------------------------------------------------------------------------
    def new_student(self, *key: int):
        from ..nn.students import MLP

        c = self.config
        mlp = MLP(self.mixture.dim, c.width, c.depth, c.activation, generator=self.generator(_S_INIT, *key, device="cpu"))
        return Student(mlp, c.residual).to(self.device)

    def train(self, student, a: int, target_fn, *key: int) -> dict:
        """Adam on fresh samples of ``p_a`` toward ``target_fn`` (no grad); returns timing and last loss."""
        c = self.config
        gen = self.generator(_S_DATA, *key)
        start = time.perf_counter()
        last = math.nan
        if c.train_steps > 0:
            opt = torch.optim.Adam(student.parameters(), lr=c.lr)
            steps = c.train_steps
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda i: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(i / steps, 1.0))))
            student.train()
            for _ in range(steps):
                z = self.teacher.sample(a, c.batch, gen)
                with torch.no_grad():
                    y = target_fn(z)
                loss = ((student(z) - y) ** 2).sum(-1).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            last = float(loss.detach())
        student.eval()
        for p in student.parameters():
            p.requires_grad_(False)
        return {"train_s": time.perf_counter() - start, "final_loss": last}

    # -- part 1 ---------------------------------------------------------------------------
    def branches(self) -> list[dict]:
        c = self.config
        K = self.mixture.components
        rows = []
        for anchor in c.anchors:
            for k in c.window_lengths():
                a, b = window(c, anchor, k)
                with torch.no_grad():
                    z = self.teacher.sample(a, c.branch_samples, self.generator(_S_BRANCH, a))
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
                key = (1, a, b)
                student = self.new_student(*key)
                info = self.train(student, a, lambda z, a=a, b=b: self.teacher.composite(z, a, b), *key)
                rows.append({
                    "part": "merge_k", "anchor": anchor, "k": k, "start": a, "end": b,
                    "relmse": self.relmse(student, a, b), "affine_relmse": self.affine_relmse(a, b), **info,
                })
        return rows

    def affine_relmse(self, a: int, b: int) -> float:
        """Held-out relMSE of the least-squares affine map ``z_a ↦ z_b`` (fit on its own samples)."""
        with torch.no_grad():
            n = max(self.config.eval_samples, 4 * (self.mixture.dim + 1))
            z = self.teacher.sample(a, n, self.generator(_S_FIT, a)).double()
            y = self.teacher.composite(z.to(self.teacher.dtype), a, b).double()
            A, c = affine_fit(z, y)

            def fn(inp):
                return inp.double() @ A + c

            y_ev = self.eval_targets(a, b).double()
            err = fn(self.eval_inputs(a)) - y_ev
            return float((err**2).sum() / (y_ev**2).sum())

    # -- part 3 ---------------------------------------------------------------------------
    def plans(self) -> list[dict]:
        c = self.config
        T = c.steps
        lam = coordinate_variances(self.mixture)
        lt = LinearTeacher(self.schedule, lam)
        model = MergeModel(c.linear_budget)
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
        leaves: dict[int, object] = {}
        needed = sorted({n.children[0] for p in plans.values() for n in p.nodes() if isinstance(n.children[0], int)},
                        reverse=True)
        for t in needed:
            key = (2, t)
            student = self.new_student(*key)
            info = self.train(student, t, lambda z, t=t: self.teacher.step(z, t), *key)
            leaves[t] = student
            rows.append({"part": "leaf", "start": t, "end": t - 1, "length": 1, "height": 0,
                         "relmse": self.relmse(student, t, t - 1), **info})

        trained: dict[str, tuple[object, dict]] = {}

        def apply(node, z):
            if isinstance(node, int):
                return self.teacher.step(z, node)
            return trained[node.to_text()][0](z)

        def target(children):
            def fn(z):
                for ch in children:
                    z = apply(ch, z)
                return z
            return fn

        for name, plan in plans.items():
            lin = linear_node_predictions(plan, lt, model)
            ev = evaluate_plan(plan, lt, model)
            for node in plan.nodes():
                text = node.to_text()
                a, b = node.start, node.end
                if text not in trained:
                    first = node.children[0]
                    init = leaves[first] if isinstance(first, int) else trained[first.to_text()][0]
                    student = copy.deepcopy(init)
                    for p in student.parameters():
                        p.requires_grad_(True)
                    key = (3, _node_key(text))
                    fn = target(node.children)
                    init_err = self.relmse(student, a, b)
                    target_err = self.relmse(fn, a, b)
                    info = self.train(student, a, fn, *key)
                    trained[text] = (student, {"relmse": self.relmse(student, a, b), "target_relmse": target_err,
                                               "init_relmse": init_err, **info})
                stats = trained[text][1]
                child_err = [trained[ch.to_text()][1]["relmse"] for ch in node.children if isinstance(ch, Plan)]
                rows.append({
                    "part": "node", "plan": name, "node": text, "start": a, "end": b, "length": a - b,
                    "height": node.depth, "children": len(node.children), "is_root": node is plan,
                    "max_child_relmse": max(child_err) if child_err else 0.0,
                    "lin_dev": lin[text]["lin_dev"], "lin_relmse": lin[text]["lin_relmse"], **stats,
                })
            root = trained[plan.to_text()][1]
            rows.append({
                "part": "plan", "plan": name, "plan_text": plan.to_text(), "stages": plan.stages,
                "height": plan.depth, "relmse": root["relmse"], "lin_relmse": lin[plan.to_text()]["lin_relmse"],
                "lin_dev": lin[plan.to_text()]["lin_dev"], "lin_w2": ev.w2, "lin_w2_data": ev.w2_data,
                "lam_min": float(lam.min()), "lam_max": float(lam.max()), **extra.get(name, {}),
            })
        return rows


class Student(nn.Module):
    """A student ``z + MLP(z)`` (``residual``) or ``MLP(z)``; the MLP is :class:`distillplan.train.MLP`."""

    def __init__(self, mlp: nn.Module, residual: bool):
        super().__init__()
        self.mlp = mlp
        self.residual = residual

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.mlp(z)
        return z + out if self.residual else out


def _device(name: str) -> torch.device:
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise DistillPlanError("device", f"unknown device {name!r}; use cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DistillPlanError("device", "cuda was asked for but is not available; use --set device=cpu")
    return dev


def run(config: MixtureMergingConfig, seed: int) -> list[dict]:
    """All requested parts for one seed; rows are tagged by ``part`` (see the module docstring)."""
    from ..nn.runtime import cpu_runtime

    with cpu_runtime(config.threads):
        runner = _Runner(config, seed)
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

_SETTING = ("steps", "dim", "components", "box", "sigma0", "width", "depth", "train_steps")


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
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = sorted({tuple(r.get(k) for k in _SETTING) for r in rows}, key=lambda s: tuple(str(v) for v in s))
    tables = {"branches": branch_table(rows), "k": error_vs_k_table(rows), "depth": error_vs_depth_table(rows),
              "plans": plan_table(rows)}
    written = []
    colours = {"vanilla": "C0", "progressive": "C1", "boot": "C2", "consistency": "C3", "optimal": "C4"}
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
        ax.set_yscale("log")
        ax.set_xlabel("k (merged teacher steps)")
        ax.set_ylabel("affine branches")
        ax.set_title("branches of the k-step composite")
        ax.legend(frameon=False, fontsize=7)

        ax = axes[1]
        for anchor, ls in (("data", "-"), ("noise", "--")):
            sub = sorted((r for r in ek if r["anchor"] == anchor), key=lambda r: r["k"])
            if sub:
                ks = [r["k"] for r in sub]
                ax.errorbar(ks, [r["relmse_mean"] for r in sub], yerr=_std(sub, "relmse"), fmt="o" + ls, color="C2",
                            label=f"MLP ({anchor})", capsize=2)
                ax.plot(ks, [r["affine_relmse_mean"] for r in sub], "x" + ls, color="0.5", label=f"best affine ({anchor})")
        ax.set_yscale("log")
        positive = [v for r in ek for v in (r["relmse_mean"], r["affine_relmse_mean"]) if v > 0]
        if positive:  # an exactly affine step (t = T) fits to rounding: keep the axis on the errors that matter
            ax.set_ylim(bottom=max(min(positive), 1e-9) / 2)
        ax.set_xlabel("k")
        ax.set_ylabel("relative MSE vs exact composite")
        ax.set_title("fixed-capacity student vs k")
        ax.legend(frameon=False, fontsize=7)

        ax = axes[2]
        lin_ax = ax.twinx()
        for plan in PLANS:
            sub = sorted((r for r in dp if r["plan"] == plan), key=lambda r: r["height"])
            if not sub:
                continue
            h = [r["height"] for r in sub]
            hollow = plan == "optimal"  # the optimum usually equals a canonical plan: draw it open, on top
            ax.errorbar(h, [r["relmse_mean"] for r in sub], yerr=_std(sub, "relmse"), fmt="o-", color=colours[plan],
                        label=plan, capsize=2, ms=9 if hollow else 4, mfc="none" if hollow else None,
                        lw=0.8 if hollow else 1.5, zorder=3 if hollow else 2)
            lin_ax.plot(h, [max(r["lin_relmse_mean"], 1e-300) for r in sub], "x--", color=colours[plan], lw=1, ms=4)
        ax.set_yscale("log")
        lin_ax.set_yscale("log")
        ax.set_xlabel("merge depth (node height)")
        ax.set_ylabel("MLP node relMSE vs teacher composite (solid)")
        lin_ax.set_ylabel("linear-model node relMSE (dashed)")
        ax.set_title("error vs merge depth")
        ax.legend(frameon=False, fontsize=7)

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
        name = "mixture_merging_T{steps}_d{dim}_K{components}_box{box:g}_s{sigma0:g}_w{width}x{depth}_n{train_steps}.png"
        path = save_figure(fig, out_dir / name.format(**cfg), dpi=110)
        written.append(path)
    return written


def _std(table, metric):
    return [0.0 if not np.isfinite(r[f"{metric}_std"]) else r[f"{metric}_std"] for r in table]


def quick() -> Sweep:
    base = dict(steps=8, dim=2, components=4, width=64, depth=2, train_steps=400, batch=256, branch_samples=8192,
                eval_samples=4096)
    configs = [MixtureMergingConfig(**base, box=5.0, sigma0=1.0), MixtureMergingConfig(**base, box=1.5, sigma0=0.3)]
    return Sweep("mixture-merging", configs, seeds=(0, 1))


def paper() -> Sweep:
    base = dict(steps=32, dim=64, components=20, width=512, depth=4, train_steps=2000, batch=1024,
                branch_samples=65536, eval_samples=16384, lr=1e-3, device="cuda")
    configs = [MixtureMergingConfig(**base, box=5.0, sigma0=1.0), MixtureMergingConfig(**base, box=1.5, sigma0=0.3)]
    return Sweep("mixture-merging", configs, seeds=(0, 1, 2))


STUDY = Study(
    name="mixture-merging",
    config_type=MixtureMergingConfig,
    run=run,
    presets={"quick": quick, "paper": paper},
    group_by=(*_SETTING, "part", "anchor", "k", "plan", "height"),
    metrics=("distinct", "massive", "effective", "hard_gate_relmse", "relmse", "affine_relmse", "target_relmse",
             "lin_relmse", "lin_dev", "lin_w2"),
    figures=figures,
    tables=lambda rows: {"branches": branch_table(rows), "error_vs_k": error_vs_k_table(rows),
                         "error_vs_depth": error_vs_depth_table(rows), "plans": plan_table(rows)},
    description="Gaussian-mixture teacher: branch counts, fixed-capacity error vs k, error amplification per plan.",
)
