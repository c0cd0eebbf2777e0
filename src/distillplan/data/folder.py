"""A folder of the user's images (PNG/JPEG, one size, greyscale or RGB), read with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DistillPlanError
from .dataset import Dataset, check_images

__all__ = ["load_folder", "read_image", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_GREY_MODES = {"1", "L", "LA"}


def read_image(path: Path, name: str = "dataset"):
    """A Pillow image in mode ``L`` (greyscale) or ``RGB`` (alpha dropped; palettes expanded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                arr = np.asarray(im, dtype=np.float64)
                top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
                return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8))
            if mode in _GREY_MODES:
                return im.convert("L")
            if mode in ("P", "PA"):  # palettes may carry transparency: expand through RGBA
                return im.convert("RGBA").convert("RGB")
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise DistillPlanError(name, f"cannot read image {path}: {exc}") from None


def to_array(images: list) -> np.ndarray:
    """Pillow images (modes L/RGB, one size) -> (N, C, H, W) float32 in [0, 1]; greyscale is
    replicated to RGB when the images mix both."""
    rgb = any(im.mode == "RGB" for im in images)
    arrays = [np.asarray(im.convert("RGB") if rgb else im, dtype=np.uint8) for im in images]
    stack = np.stack(arrays)
    stack = stack.transpose(0, 3, 1, 2) if rgb else stack[:, None]
    return stack.astype(np.float32) / 255.0


def load_folder(path, limit: int | None = None) -> Dataset:
    """Every ``*.png``/``*.jpg``/``*.jpeg`` in ``path`` (not recursive, sorted by name).

    All images must have one size; a mix of greyscale and RGB is read as RGB.
    """
    folder = Path(path).expanduser()
    spec = f"folder:{path}"
    if not folder.exists():
        raise DistillPlanError("dataset", f"{spec}: no such folder")
    if not folder.is_dir():
        raise DistillPlanError("dataset", f"{spec}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DistillPlanError("dataset", f"{spec}: no PNG or JPEG images ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    if limit:
        files = files[:limit]
    images = []
    first = None
    for f in files:
        im = read_image(f)
        if first is None:
            first = (f.name, im.size)
        elif im.size != first[1]:
            (w0, h0), (w1, h1) = first[1], im.size
            raise DistillPlanError(
                "dataset",
                f"{spec}: images have different sizes ({first[0]} is {w0}x{h0}, {f.name} is {w1}x{h1}); "
                "all images must have one size",
            )
        images.append(im)
    return Dataset(spec, check_images(spec, to_array(images)))
