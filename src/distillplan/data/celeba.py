"""CelebA from a local torchvision-style root, read with Pillow (no download, no torchvision).

Layout (what ``torchvision.datasets.CelebA(root)`` leaves on disk)::

    ROOT/celeba/img_align_celeba/000001.jpg ...
    ROOT/celeba/list_eval_partition.txt      # "000001.jpg 0" per line: 0 train, 1 valid, 2 test

ROOT may also be the ``celeba`` folder itself. Images are centre-cropped to a square of side
min(148, H, W) (the crop of the MS-SSIM VAE of PyTorch-VAE) and resized to ``size``×``size``.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import DistillPlanError
from .dataset import Dataset, check_images

__all__ = ["load_celeba", "celeba_files", "CELEBA_SPLITS", "CELEBA_CROP"]

CELEBA_SPLITS = {"train": (0,), "valid": (1,), "test": (2,), "all": (0, 1, 2)}
CELEBA_CROP = 148
_IMAGES = "img_align_celeba"
_PARTITION = "list_eval_partition.txt"


def _base(root: Path, spec: str) -> Path:
    for base in (root / "celeba", root):
        if (base / _IMAGES).is_dir() and (base / _PARTITION).is_file():
            return base
    if not root.exists():
        raise DistillPlanError("dataset", f"{spec}: no such folder")
    raise DistillPlanError(
        "dataset", f"{spec}: expected {root}/celeba/{_IMAGES}/ and {root}/celeba/{_PARTITION} (torchvision layout); "
                   "nothing is downloaded"
    )


def celeba_files(root, split: str = "train") -> list[Path]:
    """The image files of ``split`` listed in ``list_eval_partition.txt``, in file order."""
    root = Path(root).expanduser()
    spec = f"celeba:{root}"
    if split not in CELEBA_SPLITS:
        raise DistillPlanError("split", f"unknown CelebA split {split!r}; choose from {list(CELEBA_SPLITS)}")
    base = _base(root, spec)
    wanted = CELEBA_SPLITS[split]
    files = []
    for number, line in enumerate((base / _PARTITION).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) not in (0, 1, 2):
            raise DistillPlanError("dataset", f"{spec}: {_PARTITION} line {number} is not 'FILE.jpg 0|1|2': {line!r}")
        if int(parts[1]) in wanted:
            files.append(base / _IMAGES / parts[0])
    if not files:
        raise DistillPlanError("dataset", f"{spec}: {_PARTITION} lists no images of split {split!r}")
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DistillPlanError(
            "dataset", f"{spec}: {len(missing)} listed image(s) missing from {_IMAGES}/, e.g. {missing[0].name}"
        )
    return files


def _read(path: Path, size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            side = min(CELEBA_CROP, w, h)
            left, top = (w - side) // 2, (h - side) // 2
            im = im.crop((left, top, left + side, top + side))
            if side != size:
                im = im.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise DistillPlanError("dataset", f"celeba: cannot read image {path}: {exc}") from None


def load_celeba(root, size: int = 64, split: str = "train", limit: int | None = None,
                cache_dir=None, workers: int | None = None) -> Dataset:
    """CelebA ``split`` as (N, 3, size, size) float32 in [0, 1] (the first ``limit`` images if given).

    With ``cache_dir`` the preprocessed uint8 array is kept there (keyed by the file list, sizes
    and times, ``size`` and ``limit``) so a second call skips decoding the JPEGs.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 4:
        raise DistillPlanError("image_size", f"must be an integer >= 4, got {size!r}")
    files = celeba_files(root, split)
    if limit:
        files = files[:limit]
    spec = f"celeba:{root}"
    cache_file = None
    if cache_dir is not None:
        stat = [(f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in files]
        key = hashlib.sha256(json.dumps([str(Path(root).expanduser().resolve()), split, size, stat]).encode()).hexdigest()
        cache_file = Path(cache_dir) / "celeba" / f"{key[:24]}.npy"
        if cache_file.is_file():
            arr = np.load(cache_file)
            return Dataset(spec, check_images(spec, arr.astype(np.float32) / 255.0))
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        arr = np.stack(list(pool.map(lambda f: _read(f, size), files, chunksize=64))).transpose(0, 3, 1, 2)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, cache_file)
    return Dataset(spec, check_images(spec, arr.astype(np.float32) / 255.0))
