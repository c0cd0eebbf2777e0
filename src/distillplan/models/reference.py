"""The reference model: a small diffusers DDPM on scikit-learn's 8×8 digits, trained once and cached as a
diffusers pipeline folder, so it takes the same path as a user's model folder.

**Model.** A ``UNet2DModel`` (1 channel, 8×8, data x₀ = 2·image − 1 ∈ [−1, 1]) predicting the noise ε of

    x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε,    ε ~ N(0, I),    ᾱ_t = Π_{k ≤ t} (1 − β_k),                    (1)

with diffusers' linear β table (β_k from ``beta_start`` to ``beta_end`` over N training steps; the table
is :meth:`DiscreteVP.from_betas <distillplan.models.processes.DiscreteVP.from_betas>`'s). Training minimises
the DDPM loss E_{t ~ U{0..N−1}, x₀, ε} ‖ε_θ(x_t, t) − ε‖² with the one training loop
(:func:`distillplan.nn.train`: AdamW, gradient-norm clip, lr cosine-decayed from lr to lr·``lr_floor``).
The saved weights are an exponential moving average of the iterates,

    θ̄_k = d_k θ̄_{k−1} + (1 − d_k) θ_k,    d_k = min(ema_decay, (1 + k)/(10 + k)),                 (2)

updated after every optimiser step (k = 0, 1, …; the ramp keeps early averages from remembering the
initialisation). ``train`` has no per-step hook, so the update after step k runs at the start of the
step-loss call of step k + 1 (and once more after the last step): the same sequence of averages.

**Cache.** ``<root>/models/digits-<key[:16]>/`` with root = ``cache_dir``, ``$DISTILLPLAN_CACHE`` or
``~/.cache/distillplan`` and key = sha256 of the config and the data fingerprint. The folder is a
``DDPMPipeline`` folder (``model_index.json``, ``unet/``, ``scheduler/``) plus ``distillplan.json`` (config,
key, training time, data fingerprint, quality figures) and ``samples.png`` (64 samples). It is written
into a temporary sibling folder and renamed into place, so a reader sees a complete folder or none; when
two processes train the same key at once, the first rename wins and the other discards its copy. The
returned model is always loaded back from the folder (``UNet2DModel.from_pretrained``).

**Quality.** Fréchet distances of the features of a small digits classifier (:mod:`.quality`) between
``quality_samples`` DDIM samples (:mod:`.sampling`, η = 0, ``sampler_steps`` steps, x̂₀ clipped to
[−1, 1]) and the 1797 real digits, with two yardsticks: the floor FD(real half A, real half B) and the
ceiling FD(Gaussian noise with the real per-pixel mean and std, clipped to [0, 1]; real). The model sees
every digit in training, so it can score below the floor by reproducing them; nearest-neighbour pixel
distances to real half B (samples vs real half A) show whether it copies (:func:`evaluate_quality`).

Random streams (:mod:`distillplan.nn.streams`): weights ``("init", seed, "reference-unet")``; batches,
training times and noise ``("data", seed, "reference-unet")``; sampler noise ``("noise", seed,
"reference-samples")``; the real halves ``("eval", seed, "reference-halves")``; the ceiling's noise
``("noise", seed, "reference-ceiling")``. Torch's thread count is left as the caller set it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import DistillPlanError, check_int_at_least, check_positive, check_range, check_seed
from ..nn.cache import default_cache_dir
from ..nn.fit import TrainSettings, minibatches, train
from ..nn.runtime import resolve_device
from ..nn.streams import global_stream, make_generator, numpy_generator
from .processes import DiscreteVP
from .quality import (ClassifierConfig, classifier_features, classify, digit_labels, frechet_distance_of,
                      load_or_train_classifier, nearest_distances)
from .sampling import ddim_sample

__all__ = ["ReferenceConfig", "ReferenceModel", "Progress", "build_unet", "make_scheduler", "train_reference",
           "sample_reference", "evaluate_quality", "reference_folder", "load_reference", "load_or_train_reference",
           "save_sample_figure"]

_CACHE_VERSION = 1
_STREAM = "reference-unet"
_SAMPLES = "reference-samples"
_META = "distillplan.json"

Progress = Callable[[int, int, float], None]
"""``progress(step, total, loss)``: called after the loss of step ``step`` (1-based) of ``total`` is computed."""


@dataclass(frozen=True)
class ReferenceConfig:
    """The reference DDPM: architecture, schedule, training budget, seed and how its quality is measured.

    ``attention`` puts self-attention in the lowest-resolution down block, the first up block and the
    mid block; ``train_steps`` AdamW steps of ``batch`` digits; ``quality_samples = 0`` skips the quality
    figures. Every field is part of the cache key.

    Why the defaults: widths (32, 64), one ResNet layer per block and attention at 4×4 (0.70 M parameters)
    cost 61–70 ms per step of 128 digits on the 2-core Xeon with both cores free (torch 2.13 CPU, 2 threads;
    (64, 128) costs 2.6× as much), so 3000 steps (~210 passes over the digits) train in ~4 min on free
    cores (measured 247 s) and stay under ~8 min when other jobs keep the load near 3 (measured up to
    ~160 ms per step). With lr 1e-3 cosine-decayed to 1e-4 and EMA 0.999 they reach FD 8.3 at the floor's
    sample sizes, against the real-vs-real floor 9.4 and the noise ceiling ~400 (1500 steps: 10.0; 4000
    steps: 7.2). The standard N = 1000 linear table is kept, the schedule most diffusers DDPMs use.
    """

    block_out_channels: tuple[int, ...] = (32, 64)
    layers_per_block: int = 1
    attention: bool = True
    norm_num_groups: int = 8
    train_steps: int = 3000
    batch: int = 128
    lr: float = 1e-3
    lr_floor: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    diffusion_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    seed: int = 0
    quality_samples: int = 1000
    sampler_steps: int = 100
    classifier: ClassifierConfig = ClassifierConfig()

    def __post_init__(self) -> None:
        channels = tuple(check_int_at_least("block_out_channels", c, 1) for c in self.block_out_channels)
        if not channels:
            raise DistillPlanError("block_out_channels", "needs at least one block")
        object.__setattr__(self, "block_out_channels", channels)
        groups = check_int_at_least("norm_num_groups", self.norm_num_groups, 1)
        if any(c % groups for c in channels):
            raise DistillPlanError("norm_num_groups", f"{groups} must divide every block width {channels}")
        if 8 % 2 ** (len(channels) - 1):
            raise DistillPlanError("block_out_channels", f"{len(channels)} blocks downsample 8×8 below one pixel")
        check_int_at_least("layers_per_block", self.layers_per_block, 1)
        if not isinstance(self.attention, bool):
            raise DistillPlanError("attention", f"must be True or False, got {self.attention!r}")
        check_int_at_least("train_steps", self.train_steps, 1)
        check_int_at_least("batch", self.batch, 1)
        check_positive("lr", self.lr)
        check_range("lr_floor", self.lr_floor, 0.0, 1.0)
        check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        check_positive("grad_clip", self.grad_clip)
        check_range("ema_decay", self.ema_decay, 0.0, 0.99999)
        check_int_at_least("diffusion_steps", self.diffusion_steps, 2)
        check_range("beta_start", self.beta_start, 1e-8, 0.5)
        check_range("beta_end", self.beta_end, self.beta_start, 0.999)
        check_seed("seed", self.seed)
        if check_int_at_least("quality_samples", self.quality_samples, 0) == 1:
            raise DistillPlanError("quality_samples", "must be 0 (no quality figures) or at least 2")
        check_int_at_least("sampler_steps", self.sampler_steps, 1)
        if self.sampler_steps > self.diffusion_steps:
            raise DistillPlanError("sampler_steps", f"at most diffusion_steps = {self.diffusion_steps}")
        if not isinstance(self.classifier, ClassifierConfig):
            raise DistillPlanError("classifier", f"must be a ClassifierConfig, got {type(self.classifier).__name__}")

    def cache_payload(self) -> dict:
        """Every field, JSON-able."""
        payload = dataclasses.asdict(self)
        payload["block_out_channels"] = list(self.block_out_channels)
        payload["classifier"] = self.classifier.cache_payload()
        return payload

    def key(self, data_fingerprint: str) -> str:
        """sha256 of the cache version, :meth:`cache_payload` and the data fingerprint."""
        text = json.dumps({"v": _CACHE_VERSION, "config": self.cache_payload(), "data": data_fingerprint},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def process(self) -> DiscreteVP:
        """The training table ᾱ_k of (1) as a noise process (t = training step)."""
        return DiscreteVP.from_betas("linear", self.beta_start, self.beta_end, self.diffusion_steps)


def _diffusers():
    try:
        import diffusers
    except ImportError:  # pragma: no cover - diffusers is an optional dependency
        raise DistillPlanError("model", "the reference model needs diffusers: pip install 'distillplan[diffusers]'") from None
    return diffusers


def build_unet(config: ReferenceConfig):
    """A freshly initialised ``UNet2DModel`` for ``config`` (weights from the stream ``("init", seed, ...)``)."""
    diffusers = _diffusers()
    n = len(config.block_out_channels)
    down, up = ["DownBlock2D"] * n, ["UpBlock2D"] * n
    if config.attention and n > 1:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    with global_stream("init", config.seed, _STREAM):
        return diffusers.UNet2DModel(
            sample_size=8, in_channels=1, out_channels=1, block_out_channels=config.block_out_channels,
            layers_per_block=config.layers_per_block, down_block_types=tuple(down), up_block_types=tuple(up),
            norm_num_groups=config.norm_num_groups, add_attention=config.attention)


def make_scheduler(config: ReferenceConfig):
    """The ``DDPMScheduler`` of (1): linear β, ε-prediction, x̂₀ clipped to [−1, 1]."""
    return _diffusers().DDPMScheduler(num_train_timesteps=config.diffusion_steps, beta_schedule="linear",
                                      beta_start=config.beta_start, beta_end=config.beta_end,
                                      prediction_type="epsilon", clip_sample=True)


class _EMA:
    """The moving average (2) of a module's parameters."""

    def __init__(self, net: torch.nn.Module, decay: float):
        self.decay = decay
        self.count = 0
        self.shadow = [p.detach().clone() for p in net.parameters()]

    @torch.no_grad()
    def update(self, net: torch.nn.Module) -> None:
        d = min(self.decay, (1 + self.count) / (10 + self.count))
        torch._foreach_lerp_(self.shadow, [p.detach() for p in net.parameters()], 1.0 - d)
        self.count += 1

    @torch.no_grad()
    def copy_to(self, net: torch.nn.Module) -> None:
        for p, s in zip(net.parameters(), self.shadow):
            p.copy_(s)


def train_reference(images: np.ndarray, config: ReferenceConfig = ReferenceConfig(), device: str | torch.device = "cpu",
                    progress: Progress | None = None):
    """Train the UNet of ``config`` on ``images`` (N, 1, 8, 8) in [0, 1] (module docstring: loss, EMA (2)).

    Returns ``(unet, stats)``: the UNet holding the averaged weights, in eval mode, and ``{"train_seconds",
    "final_loss"}`` (wall time including building the net; mean loss over the last 10% of steps)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != (1, 8, 8):
        raise DistillPlanError("images", f"the reference model needs (N, 1, 8, 8) images, got shape {images.shape}")
    start = time.perf_counter()
    device = torch.device(device)
    unet = build_unet(config).to(device)
    ab = config.process().alphas_bar
    signal = torch.tensor(np.sqrt(ab), dtype=torch.float32, device=device).view(-1, 1, 1, 1)
    noise_scale = torch.tensor(np.sqrt(1.0 - ab), dtype=torch.float32, device=device).view(-1, 1, 1, 1)
    generator = make_generator("data", config.seed, _STREAM, device=device)
    draw = minibatches(torch.tensor(images * 2.0 - 1.0, device=device), config.batch, generator)
    ema = _EMA(unet, config.ema_decay)
    total = config.train_steps

    def step_loss(step: int) -> torch.Tensor:
        if step > 0:
            ema.update(unet)  # after the optimiser step of step − 1
        x0 = draw()
        t = torch.randint(0, config.diffusion_steps, (x0.shape[0],), generator=generator, device=device)
        eps = torch.randn(x0.shape, generator=generator, device=device)
        xt = signal[t] * x0 + noise_scale[t] * eps
        loss = (unet(xt, t, return_dict=False)[0] - eps).square().mean()
        if progress is not None:
            progress(step + 1, total, float(loss.detach()))
        return loss.reshape(1)

    result = train(unet, step_loss, TrainSettings(total, config.batch, config.lr, config.weight_decay,
                                                  grad_clip=config.grad_clip, lr_floor=config.lr_floor))
    ema.update(unet)
    ema.copy_to(unet)
    unet.eval()
    return unet, {"train_seconds": time.perf_counter() - start, "final_loss": float(result.final_loss[0])}


@torch.no_grad()
def sample_reference(unet, config: ReferenceConfig, n: int, *, steps: int | None = None, seed: int | None = None,
                     clip: float | None = 1.0, batch: int = 1024) -> np.ndarray:
    """``n`` DDIM samples (:mod:`.sampling`) of ``unet`` as float32 images (n, 1, 8, 8) in [0, 1].

    The starting noise comes from the stream ``("noise", seed, "reference-samples")`` on the CPU (the same
    draws on every device); ``steps`` defaults to ``config.sampler_steps``, ``seed`` to ``config.seed``."""
    n = check_int_at_least("n", n, 1)
    seed = config.seed if seed is None else check_seed("seed", seed)
    device = next(unet.parameters()).device
    noise = torch.randn((n, 1, 8, 8), generator=make_generator("noise", seed, _SAMPLES)).to(device)

    def eps_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return unet(x, t, return_dict=False)[0]

    x = ddim_sample(eps_model, config.process().alphas_bar, noise, steps or config.sampler_steps, clip=clip, batch=batch)
    return ((x.clamp(-1.0, 1.0) + 1.0) / 2.0).cpu().numpy().astype(np.float32)


def evaluate_quality(samples: np.ndarray, real: np.ndarray, config: ReferenceConfig, *, data_fingerprint: str,
                     cache_dir=None, device: str | torch.device = "cpu") -> dict:
    """The quality figures (module docstring) of ``samples`` against ``real``, both (N, 1, 8, 8) in [0, 1].

    ``fd_model``: FD(samples, all real); ``fd_model_half``: FD(the first |A| samples, real half B), the
    model at the floor's sample sizes; ``fd_floor``: FD(real half A, real half B); ``fd_ceiling``: FD(matched
    noise, all real) with as many noise images as samples; ``sample_classes``: how many samples the
    classifier assigns to each digit 0..9 (mode coverage); ``nearest_model`` / ``nearest_floor``: the median
    pixel distance (images in [0, 1]) from the first |A| samples / from real half A to the nearest digit of
    real half B. The model trains on all the digits, so FD(model) can fall below the floor by reproducing
    them: ``nearest_model`` well below ``nearest_floor`` would show copying."""
    start = time.perf_counter()
    classifier = load_or_train_classifier(real, digit_labels(), config.classifier, data_fingerprint=data_fingerprint,
                                          cache_dir=cache_dir, device=device)
    real = np.asarray(real, dtype=np.float32)
    perm = numpy_generator("eval", config.seed, "reference-halves").permutation(len(real))
    half_a, half_b = perm[: len(real) // 2 + len(real) % 2], perm[len(real) // 2 + len(real) % 2:]
    mean, std = real.mean(axis=0), real.std(axis=0)
    rng = numpy_generator("noise", config.seed, "reference-ceiling")
    noise = np.clip(mean + std * rng.standard_normal((len(samples), *real.shape[1:])), 0.0, 1.0).astype(np.float32)
    f_real = classifier_features(classifier.model, real)
    f_gen = classifier_features(classifier.model, samples)
    f_noise = classifier_features(classifier.model, noise)
    return {
        "classifier_accuracy": classifier.accuracy,
        "classifier_test_size": classifier.test_size,
        "classifier_features": int(f_real.shape[1]),
        "samples": int(len(samples)),
        "real": int(len(real)),
        "sampler": "ddim",
        "sampler_steps": config.sampler_steps,
        "fd_model": frechet_distance_of(f_gen, f_real),
        "fd_model_half": frechet_distance_of(f_gen[: len(half_a)], f_real[half_b]),
        "fd_floor": frechet_distance_of(f_real[half_a], f_real[half_b]),
        "fd_ceiling": frechet_distance_of(f_noise, f_real),
        "nearest_model": float(np.median(nearest_distances(samples[: len(half_a)], real[half_b]))),
        "nearest_floor": float(np.median(nearest_distances(real[half_a], real[half_b]))),
        "sample_classes": np.bincount(classify(classifier.model, samples), minlength=10).tolist(),
        "quality_seconds": time.perf_counter() - start,
    }


@dataclass
class ReferenceModel:
    """A reference DDPM loaded from its cache folder.

    ``unet`` is ``UNet2DModel.from_pretrained(folder / "unet")`` in eval mode on the requested device;
    ``scheduler_config`` is the saved ``DDPMScheduler`` config; ``train_seconds`` and ``quality`` come from
    ``distillplan.json``; ``cached`` says whether this call found the folder (True) or trained it."""

    folder: Path
    unet: Any
    scheduler_config: dict
    train_seconds: float
    quality: dict
    config: ReferenceConfig
    key: str
    cached: bool
    meta: dict = field(default_factory=dict, repr=False)

    def process(self) -> DiscreteVP:
        """The training table ᾱ_k of the model's noise process (t = training step)."""
        return self.config.process()

    def sample(self, n: int, *, steps: int | None = None, seed: int | None = None, clip: float | None = 1.0,
               batch: int = 1024) -> np.ndarray:
        """:func:`sample_reference` of this model: ``n`` images (n, 1, 8, 8) in [0, 1]."""
        return sample_reference(self.unet, self.config, n, steps=steps, seed=seed, clip=clip, batch=batch)


def reference_folder(config: ReferenceConfig = ReferenceConfig(), cache_dir=None, data_fingerprint: str | None = None) -> Path:
    """``<root>/models/digits-<key[:16]>`` for ``config`` on the digits (or on data with ``data_fingerprint``)."""
    if data_fingerprint is None:
        from ..data.digits import load_digits

        data_fingerprint = load_digits().fingerprint
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return root / "models" / f"digits-{config.key(data_fingerprint)[:16]}"


def _read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / _META).read_text())
    except (OSError, ValueError):
        return None


def load_reference(folder: str | Path, device: str = "cpu", *, cached: bool = True) -> ReferenceModel:
    """Load a reference-model folder written by :func:`load_or_train_reference` (``UNet2DModel.from_pretrained``)."""
    diffusers = _diffusers()
    folder = Path(folder)
    meta = _read_meta(folder)
    if meta is None:
        raise DistillPlanError("folder", f"{folder} holds no readable {_META}; not a reference-model folder")
    payload = dict(meta["config"])
    payload["block_out_channels"] = tuple(payload["block_out_channels"])
    classifier = dict(payload.pop("classifier"))
    classifier["channels"] = tuple(classifier["channels"])
    config = ReferenceConfig(**payload, classifier=ClassifierConfig(**classifier))
    unet = diffusers.UNet2DModel.from_pretrained(folder / "unet", low_cpu_mem_usage=False).to(resolve_device(device))
    unet.eval()
    scheduler_config = dict(diffusers.DDPMScheduler.load_config(folder / "scheduler"))
    return ReferenceModel(folder, unet, scheduler_config, float(meta["train_seconds"]), dict(meta.get("quality", {})),
                          config, meta["key"], cached, meta)


def load_or_train_reference(cache_dir=None, device: str = "auto", config: ReferenceConfig = ReferenceConfig(),
                            progress: Progress | None = None) -> ReferenceModel:
    """The reference model of ``config``: loaded from its cache folder when there, else trained (``device``),
    measured, written atomically and loaded back (module docstring)."""
    from ..data.digits import load_digits

    if not isinstance(config, ReferenceConfig):
        raise DistillPlanError("config", f"must be a ReferenceConfig, got {type(config).__name__}")
    dataset = load_digits()
    key = config.key(dataset.fingerprint)
    folder = reference_folder(config, cache_dir, dataset.fingerprint)
    if _is_complete(folder, key):
        return load_reference(folder, device, cached=True)
    target = resolve_device(device)
    unet, stats = train_reference(dataset.data, config, target, progress)
    quality = {}
    if config.quality_samples:
        t0 = time.perf_counter()
        samples = sample_reference(unet, config, config.quality_samples)
        sample_seconds = time.perf_counter() - t0
        quality = evaluate_quality(samples, dataset.data, config, data_fingerprint=dataset.fingerprint,
                                   cache_dir=cache_dir, device=target)
        quality["sample_seconds"] = sample_seconds
    else:
        samples = sample_reference(unet, config, 64)
    meta = {"key": key, "version": _CACHE_VERSION, "config": config.cache_payload(),
            "data": {"name": dataset.name, "fingerprint": dataset.fingerprint, "shape": list(dataset.data.shape)},
            "train_seconds": stats["train_seconds"], "final_loss": stats["final_loss"], "quality": quality,
            "trained_on": str(target), "torch": torch.__version__, "diffusers": _diffusers().__version__}
    _write_folder(folder, unet, make_scheduler(config), meta, samples[:64])
    return load_reference(folder, device, cached=False)


def _is_complete(folder: Path, key: str) -> bool:
    meta = _read_meta(folder)
    return meta is not None and meta.get("key") == key and (folder / "unet").is_dir()


def _write_folder(folder: Path, unet, scheduler, meta: dict, samples: np.ndarray) -> None:
    """Write the pipeline folder into a temporary sibling, then rename it into place (module docstring)."""
    diffusers = _diffusers()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        diffusers.DDPMPipeline(unet=unet.to("cpu"), scheduler=scheduler).save_pretrained(tmp)
        save_sample_figure(samples, tmp / "samples.png")
        with atomic_write(tmp / _META) as fh:
            json.dump(meta, fh, indent=2)
        try:
            os.rename(tmp, folder)
        except OSError:
            if _is_complete(folder, meta["key"]):
                return  # another process finished the same model first; keep its folder
            stale = folder.with_name(f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.stale")
            os.rename(folder, stale)  # an incomplete or foreign folder under our name
            os.rename(tmp, folder)
            shutil.rmtree(stale, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_sample_figure(images: np.ndarray, path: str | Path, columns: int = 8) -> Path:
    """A PNG grid of the first 64 images (N, 1, H, W) or (N, H, W) in [0, 1], ``columns`` per row, white on
    black with one-pixel gaps (matplotlib, Agg); written atomically; returns the path."""
    from ..plots import pyplot, save_figure

    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise DistillPlanError("images", f"need (N, 1, H, W) or (N, H, W) images, got shape {np.shape(images)}")
    arr = np.clip(arr[:64], 0.0, 1.0)
    columns = min(check_int_at_least("columns", columns, 1), len(arr))
    rows = -(-len(arr) // columns)
    h, w = arr.shape[1:]
    grid = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1), 0.5, dtype=np.float32)
    for i, img in enumerate(arr):
        r, c = divmod(i, columns)
        grid[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = img
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(0.6 * columns + 0.4, 0.6 * rows + 0.4))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    return save_figure(fig, path, dpi=100)
