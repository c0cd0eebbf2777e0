"""What every run of the ``model-grids`` study on one model shares, computed once and cached on disk.

Per (model, its settings, seed): the velocity field; real data for the distribution distance and the
mixture fit; the Jacobian and acceleration calibrations (calibration noises, stream ``("noise", seed,
"calibrate")``); a fine teacher on the calibration batch for the GITS- and OptimalSteps-style
programmes; the evaluation noises (stream ``("noise", seed, "model-grids-eval")``, disjoint from the
calibration's) with their fine-teacher finals; and, for distillation, training and evaluation pools.

Entries are written to ``<cache>/model-grids/<key>.pt`` (atomically) under a file lock, so a killed run
resumes without recomputing them and two processes sharing a sweep compute each entry once.
"""

from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from ..nn.cache import cache_file, save_state

__all__ = ["ModelContext", "model_context", "cached"]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path.lock`` for the block (one process computes an entry; others wait)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


CACHE_VERSION = 1
"""Bumped whenever what an entry holds changes (old entries are then recomputed)."""


def cached(kind: str, payload: dict, compute: Callable[[], dict], cache_dir: str = "") -> dict:
    """``compute()`` once per ``(kind, payload)``: a dict of tensors, arrays, numbers and result objects, kept
    on disk under ``cache_dir`` ("" = the default cache directory) as a :mod:`distillplan.nn.cache` entry."""
    _, path = cache_file(cache_dir, f"model-grids/{kind}", {"version": CACHE_VERSION, **payload})
    with _locked(path):
        if path.is_file():
            try:
                return torch.load(path, weights_only=False)  # result objects, not only tensors
            except Exception:  # noqa: BLE001 - a damaged entry is recomputed
                pass
        value = compute()
        save_state(path, value)
        return value


@dataclass
class ModelContext:
    """The shared pieces of one model (see the module docstring)."""

    name: str
    field: Any
    data: np.ndarray  # real samples (n, d) flattened, in the model's space
    features: Callable[[np.ndarray], np.ndarray]  # rows (n, d) -> features for the Fréchet distance
    payload: dict  # what identifies the model and its settings (cache keys)
    seed: int
    cache_dir: str = ""
    store: dict = field(default_factory=dict)  # artefacts computed in this process

    @property
    def process(self):
        return self.field.process

    def artefact(self, kind: str, extra: dict, compute: Callable[[], dict]) -> dict:
        """A cached artefact of this model (memory, then disk, then ``compute``)."""
        key = (kind, json.dumps(extra, sort_keys=True))
        if key not in self.store:
            self.store[key] = cached(kind, {**self.payload, "seed": self.seed, **extra}, compute, self.cache_dir)
        return self.store[key]

    @cached_property
    def data_features(self) -> np.ndarray:
        """``features(data)``: the real side of every Fréchet distance, computed once."""
        return self.features(self.data)

    def to_rows(self, x: torch.Tensor) -> np.ndarray:
        """Samples as float64 rows (n, d)."""
        return x.detach().reshape(x.shape[0], -1).cpu().to(torch.float64).numpy()


@lru_cache(maxsize=4)
def model_context(model: str, options: str, seed: int, device: str, cache_dir: str = "") -> ModelContext:
    """The :class:`ModelContext` of ``model`` (``digits`` or ``mixture``) with JSON ``options``; artefacts are
    cached under ``cache_dir`` ("" = the default cache directory)."""
    opts = json.loads(options)
    ctx = _digits(opts, seed, device) if model == "digits" else _mixture(opts, seed, device)
    ctx.cache_dir = cache_dir
    return ctx


def _digits(opts: dict, seed: int, device: str) -> ModelContext:
    from ..data.digits import load_digits
    from ..models import load_diffusers_folder, load_or_train_reference
    from ..models.quality import classifier_features, digit_labels, load_or_train_classifier

    reference = load_or_train_reference(device=device)
    field_ = load_diffusers_folder(reference.folder, device=device)
    digits = load_digits()
    images = digits.data  # (N, 1, 8, 8) in [0, 1]
    classifier = load_or_train_classifier(images, digit_labels(), data_fingerprint=digits.fingerprint,
                                          device="cpu")

    def features(rows: np.ndarray) -> np.ndarray:
        pics = np.clip((rows.reshape(-1, 1, 8, 8) + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
        return classifier_features(classifier.model, pics)

    data = (images.reshape(len(images), -1).astype(np.float64) * 2.0 - 1.0)
    payload = {"model": "digits", "key": reference.key, **opts}
    return ModelContext("digits", field_, data, features, payload, seed)


def _mixture(opts: dict, seed: int, device: str) -> ModelContext:
    from ..mixture import OUProcess, paper_mixture
    from ..models import MixtureField
    from ..nn.streams import numpy_generator

    mixture = paper_mixture(opts["components"], opts["dim"], opts["means_seed"], opts["box"], opts["sigma0"])
    field_ = MixtureField(mixture, OUProcess(opts["beta"], opts["horizon"]), device=device)
    data = mixture.sample(opts.get("data_samples", 4096), numpy_generator("eval", seed, "model-grids-data"))
    payload = {"model": "mixture", **opts}
    return ModelContext("mixture", field_, data, lambda rows: rows, payload, seed)
