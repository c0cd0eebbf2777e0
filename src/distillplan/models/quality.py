"""Sample quality of digit generators: a small digits classifier and the Fréchet distance of its features.

* :class:`DigitsClassifier`: two 3×3 convolutions (SiLU), 2×2 average pooling, a hidden layer of
  ``features`` SiLU units (the **feature layer**, the penultimate one) and a linear map to the 10 logits;
  trained with cross-entropy on a seeded train/test split of scikit-learn's digits
  (:func:`load_or_train_classifier`, cached on disk like every trained model of :mod:`distillplan.nn.cache`).
* :func:`frechet_distance`: the Fréchet (2-Wasserstein) distance between the Gaussians N(μ₁, Σ₁), N(μ₂, Σ₂),

      FD = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2}),                                              (1)

  with (Σ₁Σ₂)^{1/2} from :func:`scipy.linalg.sqrtm`. Σ₁Σ₂ is similar to the PSD matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2},
  so its eigenvalues are real and ≥ 0 and the square root is real in exact arithmetic; the imaginary
  part sqrtm returns is rounding error and is dropped (the real part is kept).
* :func:`nearest_distances`: the pixel-space L2 distance from each image to its nearest neighbour in a
  reference set; a generator that copies its training images has samples much nearer to them than an
  independent draw of real images is (the FD alone does not penalise copying).
* :func:`frechet_distance_of`: (1) with the sample means and covariances (ddof = 1) of two feature sets,
  the sample-based score FID uses with Inception features; here the features are the classifier's.

Sample covariances make (1) biased upwards for finite samples (the bias shrinks like 1/n), so two draws
of the same distribution give a positive figure: compare scores computed at equal sample sizes.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.linalg import sqrtm
from torch import nn
from torch.nn import functional as F

from ..errors import DistillPlanError, check_int_at_least, check_positive, check_range, check_seed
from ..nn.cache import cache_file, load_state, save_state
from ..nn.fit import TrainSettings, minibatches, train
from ..nn.streams import global_stream, make_generator, numpy_generator

__all__ = ["ClassifierConfig", "DigitsClassifier", "TrainedClassifier", "digit_labels", "split_indices",
           "train_classifier", "load_or_train_classifier", "classifier_features", "classify", "feature_statistics",
           "frechet_distance", "frechet_distance_of", "nearest_distances"]

_STREAM = "digits-classifier"
_CACHE_KIND = "digits-classifier"
_CACHE_VERSION = 1


@dataclass(frozen=True)
class ClassifierConfig:
    """The quality classifier: conv channels, feature-layer width, ``steps`` AdamW steps of ``batch`` images
    (lr cosine-decayed to lr/10, weight decay ``weight_decay``), the held-out ``test_fraction`` and the seed."""

    channels: tuple[int, int] = (16, 32)
    features: int = 64
    steps: int = 1500
    batch: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    test_fraction: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.channels) != 2:
            raise DistillPlanError("channels", f"needs two conv widths, got {self.channels!r}")
        object.__setattr__(self, "channels", tuple(check_int_at_least("channels", c, 1) for c in self.channels))
        check_int_at_least("features", self.features, 2)
        check_int_at_least("steps", self.steps, 1)
        check_int_at_least("batch", self.batch, 1)
        check_positive("lr", self.lr)
        check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        check_range("test_fraction", self.test_fraction, 0.05, 0.5)
        check_seed("seed", self.seed)

    def cache_payload(self) -> dict:
        """Every field, JSON-able (the classifier's cache key)."""
        payload = dataclasses.asdict(self)
        payload["channels"] = list(self.channels)
        return payload


class DigitsClassifier(nn.Module):
    """conv 3×3 → SiLU → conv 3×3 → SiLU → avg-pool 2 → linear → SiLU (features) → linear (10 logits).

    Input: (N, 1, H, W) images in [0, 1] with H, W even (8×8 digits)."""

    def __init__(self, channels: tuple[int, int] = (16, 32), features: int = 64, image_side: int = 8):
        super().__init__()
        c1, c2 = channels
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.hidden = nn.Linear(c2 * (image_side // 2) ** 2, features)
        self.head = nn.Linear(features, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate (feature) layer, shape (N, features)."""
        h = F.silu(self.conv2(F.silu(self.conv1(x))))
        return F.silu(self.hidden(F.avg_pool2d(h, 2).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class TrainedClassifier:
    """A classifier from the cache (``cached=True``) or trained now, with its held-out accuracy."""

    model: DigitsClassifier
    accuracy: float
    test_size: int
    key: str
    path: Path
    cached: bool
    train_seconds: float = 0.0
    config: ClassifierConfig = field(default_factory=ClassifierConfig)


def digit_labels() -> np.ndarray:
    """The 1797 labels 0..9 of scikit-learn's digits, in the order of :func:`distillplan.data.digits.load_digits`."""
    from sklearn.datasets import load_digits

    return load_digits().target.astype(np.int64)


def split_indices(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` indices: a permutation from the stream ``("data", seed, "digits-classifier")``, the
    first ``round(test_fraction · n)`` held out."""
    perm = numpy_generator("data", seed, _STREAM, "split").permutation(n)
    n_test = int(round(test_fraction * n))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _build(config: ClassifierConfig, image_side: int) -> DigitsClassifier:
    with global_stream("init", config.seed, _STREAM):
        return DigitsClassifier(config.channels, config.features, image_side)


def _check_inputs(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if images.ndim != 4 or images.shape[1] != 1 or images.shape[2] % 2 or images.shape[3] != images.shape[2]:
        raise DistillPlanError("images", f"need (N, 1, H, H) images with H even, got shape {images.shape}")
    if labels.shape != (images.shape[0],) or labels.min() < 0 or labels.max() > 9:
        raise DistillPlanError("labels", f"need one label 0..9 per image, got shape {labels.shape}")
    return images, labels


def train_classifier(images: np.ndarray, labels: np.ndarray, config: ClassifierConfig = ClassifierConfig(),
                     device: str | torch.device = "cpu") -> tuple[DigitsClassifier, float, int]:
    """Train on the train split with the one training loop (:func:`distillplan.nn.train`, cross-entropy,
    batches from the stream ``("data", seed, "digits-classifier")``); returns ``(model, test accuracy,
    test size)``, the model in eval mode."""
    images, labels = _check_inputs(images, labels)
    train_idx, test_idx = split_indices(len(images), config.test_fraction, config.seed)
    device = torch.device(device)
    model = _build(config, images.shape[-1]).to(device)
    x = torch.tensor(images, device=device)
    y = torch.tensor(labels, device=device)
    rows = torch.from_numpy(train_idx).to(device)
    draw = minibatches(rows, config.batch, make_generator("data", config.seed, _STREAM, device=device))

    def step_loss(step: int) -> torch.Tensor:
        idx = draw()
        return F.cross_entropy(model(x[idx]), y[idx]).reshape(1)

    train(model, step_loss, TrainSettings(config.steps, config.batch, config.lr, config.weight_decay, grad_clip=None,
                                          lr_floor=0.1))
    with torch.no_grad():
        test = torch.from_numpy(test_idx).to(device)
        correct = (model(x[test]).argmax(1) == y[test]).sum().item()
    return model, correct / len(test_idx), len(test_idx)


def load_or_train_classifier(images: np.ndarray, labels: np.ndarray, config: ClassifierConfig = ClassifierConfig(), *,
                             data_fingerprint: str, cache_dir=None, device: str | torch.device = "cpu") -> TrainedClassifier:
    """The classifier for (``config``, data, labels): from the cache (``<root>/digits-classifier/``, key =
    sha256 of the config, the data fingerprint and the labels) when present, else trained and stored."""
    images, labels = _check_inputs(images, labels)
    payload = {"v": _CACHE_VERSION, "config": config.cache_payload(), "data": data_fingerprint,
               "labels": _labels_digest(labels), "side": int(images.shape[-1])}
    key, path = cache_file(cache_dir, _CACHE_KIND, payload)
    state = load_state(path, torch.device(device))
    if state is not None and state.get("key") == key:
        model = _build(config, images.shape[-1]).to(device)
        model.load_state_dict(state["state_dict"])
        model.eval()
        return TrainedClassifier(model, float(state["accuracy"]), int(state["test_size"]), key, path, True,
                                 float(state.get("train_seconds", 0.0)), config)
    start = time.perf_counter()
    model, accuracy, test_size = train_classifier(images, labels, config, device)
    seconds = time.perf_counter() - start
    save_state(path, {"key": key, "state_dict": model.state_dict(), "accuracy": accuracy, "test_size": test_size,
                      "train_seconds": seconds})
    return TrainedClassifier(model, accuracy, test_size, key, path, False, seconds, config)


def _labels_digest(labels: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64).tobytes()).hexdigest()


@torch.no_grad()
def classifier_features(model: DigitsClassifier, images: np.ndarray | torch.Tensor, batch: int = 2048) -> np.ndarray:
    """Feature-layer activations of ``images`` (N, 1, H, W) in [0, 1], float64 (N, features)."""
    device = next(model.parameters()).device
    x = images if torch.is_tensor(images) else torch.tensor(np.asarray(images, dtype=np.float32))
    if x.ndim != 4 or x.shape[1] != 1:
        raise DistillPlanError("images", f"need (N, 1, H, W) images, got shape {tuple(x.shape)}")
    model.eval()
    out = [model.features(x[i:i + batch].to(device, torch.float32)).cpu() for i in range(0, x.shape[0], batch)]
    return torch.cat(out).to(torch.float64).numpy()


@torch.no_grad()
def classify(model: DigitsClassifier, images: np.ndarray | torch.Tensor, batch: int = 2048) -> np.ndarray:
    """The predicted digit (argmax of the logits) of each image (N, 1, H, W) in [0, 1], int64 (N,)."""
    device = next(model.parameters()).device
    x = images if torch.is_tensor(images) else torch.tensor(np.asarray(images, dtype=np.float32))
    model.eval()
    out = [model(x[i:i + batch].to(device, torch.float32)).argmax(1).cpu() for i in range(0, x.shape[0], batch)]
    return torch.cat(out).numpy()


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(μ, Σ)``: the sample mean and the sample covariance (ddof = 1) of ``features`` (N, d), N ≥ 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise DistillPlanError("features", f"need an (N, d) array with N >= 2, got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise DistillPlanError("features", "contains NaN or infinite values")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False, ddof=1))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """(1) of the module docstring for N(μ₁, Σ₁) and N(μ₂, Σ₂); float64 throughout.

    Rounding can leave a value a few ulps below 0 for equal inputs; it is returned as computed."""
    mu1, mu2 = (np.atleast_1d(np.asarray(m, dtype=np.float64)) for m in (mu1, mu2))
    cov1, cov2 = (np.atleast_2d(np.asarray(c, dtype=np.float64)) for c in (cov1, cov2))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise DistillPlanError("frechet_distance", f"need means (d,) and covariances (d, d) of one d, got "
                                                   f"{mu1.shape}, {cov1.shape}, {mu2.shape}, {cov2.shape}")
    root = np.real(sqrtm(cov1 @ cov2))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(root))


def frechet_distance_of(a: np.ndarray, b: np.ndarray) -> float:
    """(1) between the sample statistics (:func:`feature_statistics`) of two feature sets (N_a, d), (N_b, d)."""
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))


def nearest_distances(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``min_j ‖q_i − r_j‖₂`` over the flattened pixels, float64 (N_queries,)."""
    q = torch.tensor(np.asarray(queries, dtype=np.float64).reshape(len(queries), -1))
    r = torch.tensor(np.asarray(reference, dtype=np.float64).reshape(len(reference), -1))
    if q.shape[1] != r.shape[1] or not len(r):
        raise DistillPlanError("reference", f"need a non-empty reference set of {q.shape[1]} pixels per image, "
                                            f"got shape {tuple(r.shape)}")
    return torch.cdist(q, r).min(dim=1).values.numpy()
