"""A small nonlinear diffusion teacher on latents, and MLP students distilled along a merge plan.

Teacher: an MLP x0-predictor with a sinusoidal time embedding on the discrete VP schedule
t = 0..T (:class:`~distillplan.schedules.VPSchedule`), preconditioned by the exact linear-Gaussian
denoiser E[x0 | z_t] = α_t λ z / r_t² of the latents' per-coordinate variances λ_i:

    x̂0(z, t) = α_t λ / (α_t² λ + σ_t²) · z  +  F_θ(z / r_t, t),        r_t² = α_t² λ + σ_t²,

with the last layer of F zero-initialised (an untrained teacher *is* the linear teacher). It is
trained on E_t ‖x̂0 − x0‖² / mmse_t (each step weighted equally; mmse_t = λσ_t²/r_t² per
coordinate) and sampled by DDIM with its T steps, z_{t−1} = α_{t−1} x̂0 + σ_{t−1} (z_t − α_t x̂0)/σ_t.

Students (the merge model's stages, trained instead of modelled): the student at input time a is a trainable
copy of the teacher network at time a behind the fixed DDIM coefficients of a → a−1,
S_a(z) = c1 z + c2 x̂0_θ(z, a), so before training it equals the teacher step a → a−1. A stage
at node [a → b] copies the student of its first child (warm start), then takes
``train_steps`` optimiser steps on E‖S(z_a) − (child_k ∘ … ∘ child_1)(z_a)‖² with z_a from the forward
process on the training latents. A node's result depends only on its subtree, so equal subtrees
(shared by several plans) are trained once (``memo``).
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import DistillPlanError, check_int_at_least, check_positive
from ..linear.plan import Plan
from ..merging.plan_students import Stage, distill_stages
from ..nn.cache import cache_file, load_state, save_state
from ..nn.fit import TrainSettings, minibatches, train
from ..nn.runtime import resolve_device
from ..nn.streams import global_stream, make_generator
from ..schedules import VPSchedule
from .config import DenoiserConfig

__all__ = [
    "DenoiserConfig", "DistillConfig", "LatentDenoiser", "StepStudent", "TrainedDenoiser", "teacher_sample",
    "distill_plan", "fit_denoiser", "leaf_student", "load_or_train_denoiser", "sample_students",
]


@dataclass(frozen=True)
class DistillConfig:
    """The per-stage budget of plan-distilled students: ``train_steps`` optimiser steps (0: stages stay copies
    of their first child) of ``batch`` latents at rate ``lr``; data from the streams ``("data", seed, node)``."""

    train_steps: int = 300
    batch: int = 256
    lr: float = 3e-4
    seed: int = 0

    def __post_init__(self) -> None:
        check_int_at_least("train_steps", self.train_steps, 0)
        check_int_at_least("batch", self.batch, 1)
        check_positive("lr", self.lr)
        check_int_at_least("seed", self.seed, 0)


class LatentDenoiser(nn.Module):
    """x̂0(z, t) for integer t in 1..T (see the module docstring); ``z`` has shape (N, d)."""

    def __init__(self, alphas: np.ndarray, lam: np.ndarray, hidden: int = 256, depth: int = 3, emb_dim: int = 32):
        super().__init__()
        alphas = np.asarray(alphas, dtype=np.float64)
        lam = np.asarray(lam, dtype=np.float64)
        sigmas = np.sqrt(np.clip(1.0 - alphas**2, 0.0, None))
        self.steps = alphas.size - 1
        self.dim = lam.size
        r2 = alphas[:, None] ** 2 * lam[None, :] + sigmas[:, None] ** 2
        self.register_buffer("alphas", torch.tensor(alphas, dtype=torch.float32))
        self.register_buffer("sigmas", torch.tensor(sigmas, dtype=torch.float32))
        self.register_buffer("lam", torch.tensor(lam, dtype=torch.float32))
        self.register_buffer("skip", torch.tensor(alphas[:, None] * lam[None, :] / r2, dtype=torch.float32))
        self.register_buffer("in_scale", torch.tensor(1.0 / np.sqrt(r2), dtype=torch.float32))
        self.register_buffer("mmse", torch.tensor(np.maximum(lam * sigmas[:, None] ** 2 / r2, 1e-8), dtype=torch.float32))
        half = emb_dim // 2
        self.register_buffer("freqs", torch.tensor(np.pi * 2.0 ** np.arange(half) / 2, dtype=torch.float32))
        layers: list[nn.Module] = [nn.Linear(self.dim + 2 * half, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        last = nn.Linear(hidden, self.dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def _t(self, z: torch.Tensor, t) -> torch.Tensor:
        if isinstance(t, int):
            return torch.full((z.shape[0],), t, dtype=torch.long, device=z.device)
        return t

    def forward(self, z: torch.Tensor, t) -> torch.Tensor:
        t = self._t(z, t)
        u = (t.to(z.dtype) / self.steps)[:, None] * self.freqs[None, :]
        h = torch.cat([z * self.in_scale[t], torch.sin(u), torch.cos(u)], dim=1)
        return self.skip[t] * z + self.net(h)

    def ddim_step(self, z: torch.Tensor, t: int, s: int | None = None) -> torch.Tensor:
        """One DDIM step t → s (default s = t − 1) with this denoiser."""
        s = t - 1 if s is None else s
        x0 = self(z, t)
        a_t, s_t, a_s, s_s = self.alphas[t], self.sigmas[t], self.alphas[s], self.sigmas[s]
        return a_s * x0 + s_s * (z - a_t * x0) / s_t


@torch.no_grad()
def teacher_sample(model: LatentDenoiser, z_T: torch.Tensor) -> torch.Tensor:
    """The teacher's T-step DDIM sample from noise ``z_T``."""
    z = z_T
    for t in range(model.steps, 0, -1):
        z = model.ddim_step(z, t)
    return z


def _forward_noise(model: LatentDenoiser, x0: torch.Tensor, t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    eps = torch.randn(x0.shape, generator=gen, device=x0.device, dtype=x0.dtype)
    return model.alphas[t][:, None] * x0 + model.sigmas[t][:, None] * eps


def _make_denoiser(schedule: VPSchedule, lam: np.ndarray, config: DenoiserConfig) -> LatentDenoiser:
    with global_stream("init", config.seed):
        return LatentDenoiser(schedule.alphas, lam, config.hidden, config.depth, config.emb_dim)


def fit_denoiser(latents: np.ndarray, schedule: VPSchedule, lam: np.ndarray,
                 config: DenoiserConfig) -> tuple[LatentDenoiser, dict]:
    """Train the teacher on centred ``latents`` (N, d) with the one training loop (:func:`distillplan.nn.train`:
    AdamW, lr cosine-decayed to lr/20, no clip), loss ``E_t ||x̂0 − x0||² / mmse_t``; batches, times and noise
    from the stream ``("data", seed)``. Returns ``(model, metrics)``, the model frozen in eval mode."""
    device = resolve_device(config.device)
    model = _make_denoiser(schedule, lam, config).to(device)
    start = time.perf_counter()
    loss = math.nan
    if config.train_steps > 0:
        gen = make_generator("data", config.seed, device=device)
        draw = minibatches(torch.tensor(np.asarray(latents, dtype=np.float32), device=device), config.batch, gen)

        def step_loss(step: int) -> torch.Tensor:
            x0 = draw()
            t = torch.randint(1, model.steps + 1, (x0.shape[0],), generator=gen, device=device)
            return (((model(_forward_noise(model, x0, t, gen), t) - x0) ** 2) / model.mmse[t]).mean().reshape(1)

        settings = TrainSettings(config.train_steps, config.batch, config.lr, grad_clip=None, lr_floor=0.05)
        loss = train(model, step_loss, settings).final_loss[0]
    model.eval()
    model.requires_grad_(False)
    return model, {"teacher_loss": loss, "teacher_train_s": time.perf_counter() - start}


@dataclass
class TrainedDenoiser:
    model: LatentDenoiser
    key: str
    cached: bool
    metrics: dict


_CACHE_VERSION = 2  # 2: named random streams and the one training loop


def _fingerprint(arr: np.ndarray) -> str:
    arr = np.ascontiguousarray(arr)
    h = hashlib.sha256(repr((arr.shape, str(arr.dtype))).encode())
    h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def load_or_train_denoiser(latents: np.ndarray, schedule: VPSchedule, lam: np.ndarray, config: DenoiserConfig, *,
                           cache_dir=None) -> TrainedDenoiser:
    """The teacher for (config, schedule, λ, latents): from the cache when present, else trained and stored."""
    lam = np.asarray(lam, dtype=np.float64)
    payload = {"v": _CACHE_VERSION, "config": config.cache_payload(), "alphas": _fingerprint(schedule.alphas),
               "lam": _fingerprint(lam), "data": _fingerprint(np.asarray(latents, dtype=np.float32))}
    key, path = cache_file(cache_dir, "latent-teacher", payload)
    device = resolve_device(config.device)
    state = load_state(path, device)
    if state is not None and state.get("key") == key:
        model = _make_denoiser(schedule, lam, config).to(device)
        model.load_state_dict(state["state_dict"])
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return TrainedDenoiser(model, key, True, dict(state.get("metrics", {})))
    model, metrics = fit_denoiser(latents, schedule, lam, config)
    save_state(path, {"key": key, "state_dict": model.state_dict(), "metrics": metrics})
    return TrainedDenoiser(model, key, False, metrics)


# ----------------------------------------------------------------------------------- students


class StepStudent(nn.Module):
    """S_a(z) = c1·z + c2·x̂0_θ(z, a) with the fixed DDIM coefficients of a → a−1 and a trainable
    copy θ of the teacher network; maps z_a to z_b where [a → b] is the last node it was trained on."""

    def __init__(self, teacher: LatentDenoiser, a: int):
        super().__init__()
        if not 1 <= a <= teacher.steps:
            raise DistillPlanError("interval", f"input time must be in 1..{teacher.steps}, got {a}")
        self.a = int(a)
        self.end = self.a - 1
        self.net = copy.deepcopy(teacher)
        al, sg = teacher.alphas, teacher.sigmas
        self.c1 = float(sg[a - 1] / sg[a])
        self.c2 = float(al[a - 1] - sg[a - 1] * al[a] / sg[a])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.c1 * z + self.c2 * self.net(z, self.a)


def leaf_student(teacher: LatentDenoiser, t: int) -> StepStudent:
    """The untrained student at input time t: exactly the teacher step t → t−1."""
    student = StepStudent(teacher, t)
    for p in student.parameters():
        p.requires_grad_(False)
    return student.eval()


def distill_plan(teacher: LatentDenoiser, plan: Plan, latents: torch.Tensor, config: DistillConfig,
                 memo: dict[str, Stage] | None = None) -> StepStudent:
    """Train every stage of ``plan`` (:func:`distillplan.merging.distill_plan`: children before parents, warm
    started from the first child) and return the root student (z_T → z_0).

    A stage at ``[a → b]`` takes ``config.train_steps`` steps of the one training loop (AdamW, no clip) on
    ``E||S(z_a) − (child_k ∘ … ∘ child_1)(z_a)||²`` with ``z_a`` from the forward process on ``latents`` (centred,
    (N, d), on the teacher's device). ``memo`` (subtree text → stage) is shared between plans so common subtrees
    are trained once.
    """
    plan.validate_steps(teacher.steps)
    memo = {} if memo is None else memo
    device = latents.device

    def train_stage(student: StepStudent, node: Plan, target) -> None:
        student.end = node.end
        if config.train_steps == 0:
            return
        gen = make_generator("data", config.seed, node.to_text(), device=device)
        draw = minibatches(latents, config.batch, gen)
        times = torch.full((min(config.batch, latents.shape[0]),), node.start, dtype=torch.long, device=device)

        def step_loss(step: int) -> torch.Tensor:
            z = _forward_noise(teacher, draw(), times, gen)
            return ((student(z) - target(z)) ** 2).mean().reshape(1)

        train(student, step_loss, TrainSettings(config.train_steps, config.batch, config.lr, grad_clip=None))

    leaves = {t: leaf_student(teacher, t) for t in plan.leaves()}
    return distill_stages(plan, leaves.__getitem__, leaves.__getitem__, train_stage, memo)[plan.to_text()].student


@torch.no_grad()
def sample_students(root: StepStudent, z_T: torch.Tensor) -> torch.Tensor:
    """One-step samples z_0 = S_root(z_T)."""
    return root(z_T)
