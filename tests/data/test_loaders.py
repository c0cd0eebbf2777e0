"""The dataset loaders and the ``dataset`` spec string: shapes, ranges and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from distillplan.data import (
    Dataset, DatasetSpec, load_celeba, load_dataset, load_digits, load_folder, load_npy, load_patches, parse_dataset,
)
from distillplan.data.celeba import celeba_files
from distillplan.errors import DistillPlanError


def assert_images(ds: Dataset, shape):
    assert isinstance(ds, Dataset)
    assert ds.data.dtype == np.float32 and ds.data.shape == shape
    assert 0.0 <= ds.data.min() and ds.data.max() <= 1.0
    assert not ds.is_latent
    assert len(ds.fingerprint) == 64


def raises_dataset_error(fn, *args, match=None, **kwargs) -> DistillPlanError:
    with pytest.raises(DistillPlanError, match=match) as info:
        fn(*args, **kwargs)
    assert info.value.argument == "dataset"
    assert "\n" not in str(info.value)
    return info.value


# ----------------------------------------------------------------------------- spec


@pytest.mark.parametrize("spec, expected", [
    ("digits", DatasetSpec("digits")),
    (" digits ", DatasetSpec("digits")),
    ("patches", DatasetSpec("patches", patch_size=8)),
    ("patches:16", DatasetSpec("patches", patch_size=16)),
    ("folder:/a/b", DatasetSpec("folder", path="/a/b")),
    ("npy:x.npy", DatasetSpec("npy", path="x.npy")),
    ("celeba:C:/data", DatasetSpec("celeba", path="C:/data")),
])
def test_parse_dataset(spec, expected):
    assert parse_dataset(spec) == expected


@pytest.mark.parametrize("spec", ["", "   ", "mnist", "digits:3", "patches:x", "patches:1", "folder:", "npy: ",
                                  "celeba:", 5, None])
def test_parse_dataset_rejects(spec):
    raises_dataset_error(parse_dataset, spec)


def test_load_dataset_checks_limit():
    with pytest.raises(DistillPlanError) as info:
        load_dataset("digits", limit=-1)
    assert info.value.argument == "limit"


# ----------------------------------------------------------------------------- bundled


def test_digits():
    ds = load_digits()
    assert_images(ds, (1797, 1, 8, 8))
    assert ds.data.max() == 1.0
    assert_images(load_dataset("digits", limit=10), (10, 1, 8, 8))
    assert load_digits().fingerprint == ds.fingerprint


def test_patches_are_deterministic_and_offline():
    ds = load_patches(8, count=50)
    assert_images(ds, (50, 1, 8, 8))
    assert np.array_equal(ds.data, load_patches(8, count=50).data)
    assert_images(load_dataset("patches:16", limit=7), (7, 1, 16, 16))
    assert ds.data.std() > 0.01


# ----------------------------------------------------------------------------- folder


def write_png(path, array, mode=None):
    Image.fromarray(np.asarray(array, dtype=np.uint8)).convert(mode or ("L" if np.ndim(array) == 2 else "RGB")).save(path)


def test_folder_of_three_greyscale_pngs(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, size=(5, 6), dtype=np.uint8) for _ in range(3)]
    for i, a in enumerate(arrays):
        write_png(tmp_path / f"img{i}.png", a)
    (tmp_path / "notes.txt").write_text("not an image")
    ds = load_dataset(f"folder:{tmp_path}")
    assert_images(ds, (3, 1, 5, 6))
    np.testing.assert_allclose(ds.data[1, 0], arrays[1] / 255.0, atol=1e-6)
    assert_images(load_folder(tmp_path, limit=2), (2, 1, 5, 6))


def test_folder_rgb_rgba_and_grey_mix_reads_as_rgb(tmp_path):
    write_png(tmp_path / "a.png", np.full((4, 4, 3), 200))
    write_png(tmp_path / "b.png", np.full((4, 4), 100))
    Image.new("RGBA", (4, 4), (10, 20, 30, 128)).save(tmp_path / "c.png")
    Image.new("RGB", (4, 4), (0, 255, 0)).save(tmp_path / "d.jpg", quality=95)
    ds = load_folder(tmp_path)
    assert_images(ds, (4, 3, 4, 4))
    np.testing.assert_allclose(ds.data[1], 100 / 255.0, atol=1e-6)  # grey replicated
    np.testing.assert_allclose(ds.data[2, :, 0, 0], np.array([10, 20, 30]) / 255.0, atol=1e-6)  # alpha dropped


def test_folder_errors(tmp_path):
    raises_dataset_error(load_dataset, f"folder:{tmp_path / 'missing'}", match="no such folder")
    (tmp_path / "file.png").write_bytes(b"")
    raises_dataset_error(load_dataset, f"folder:{tmp_path / 'file.png'}", match="not a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    raises_dataset_error(load_dataset, f"folder:{empty}", match="no PNG or JPEG")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_png(mixed / "a.png", np.zeros((4, 4)))
    write_png(mixed / "b.png", np.zeros((8, 8)))
    err = raises_dataset_error(load_dataset, f"folder:{mixed}", match="different sizes")
    assert "a.png" in str(err) and "b.png" in str(err)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.png").write_bytes(b"not a png")
    raises_dataset_error(load_folder, broken, match="cannot read image")


# ----------------------------------------------------------------------------- npy


def test_npy_images_in_every_layout(tmp_path):
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, size=(4, 6, 6), dtype=np.uint8)
    np.save(tmp_path / "u8.npy", u8)
    ds = load_dataset(f"npy:{tmp_path / 'u8.npy'}")
    assert_images(ds, (4, 1, 6, 6))
    np.testing.assert_allclose(ds.data[:, 0], u8 / 255.0, atol=1e-6)
    nchw = rng.random((3, 3, 5, 5))
    np.save(tmp_path / "nchw.npy", nchw)
    assert_images(load_npy(tmp_path / "nchw.npy"), (3, 3, 5, 5))
    nhwc = rng.random((3, 5, 7, 3)).astype(np.float32)
    np.save(tmp_path / "nhwc.npy", nhwc)
    ds = load_npy(tmp_path / "nhwc.npy")
    assert_images(ds, (3, 3, 5, 7))
    np.testing.assert_array_equal(ds.data[2, 1], nhwc[2, :, :, 1])


def test_npy_latents(tmp_path):
    z = np.random.default_rng(2).normal(size=(20, 5)) * 3.0
    np.save(tmp_path / "z.npy", z)
    ds = load_dataset(f"npy:{tmp_path / 'z.npy'}")
    assert ds.is_latent and ds.data.shape == (20, 5) and ds.data.dtype == np.float32
    assert ds.shape == (5,)
    np.testing.assert_allclose(ds.data, z, rtol=1e-6)


@pytest.mark.parametrize("array, match", [
    (np.array([[0.1, np.nan], [0.2, 0.3]]), "NaN"),
    (np.full((2, 4, 4), np.inf), "NaN"),
    (np.full((2, 4, 4), 1.5), r"\[0, 1\]"),
    (np.zeros(5), "expected latents"),
    (np.zeros((2, 5, 4, 4)), "1 or 3 channels"),
    (np.zeros((1, 3)), "at least 2"),
    (np.zeros((0, 3)), "no data"),
    (np.array([["a", "b"], ["c", "d"]]), "real numeric"),
    (np.full((2, 3, 3), 300, dtype=np.int32), "0..255"),
])
def test_npy_errors(tmp_path, array, match):
    np.save(tmp_path / "bad.npy", array)
    raises_dataset_error(load_dataset, f"npy:{tmp_path / 'bad.npy'}", match=match)


def test_npy_missing_or_unreadable(tmp_path):
    raises_dataset_error(load_dataset, f"npy:{tmp_path / 'nope.npy'}", match="no such file")
    (tmp_path / "junk.npy").write_bytes(b"junk")
    raises_dataset_error(load_dataset, f"npy:{tmp_path / 'junk.npy'}", match="not a readable")


# ----------------------------------------------------------------------------- CelebA


def fake_celeba(root, splits=(0, 0, 0, 1, 2), size=(20, 24), nested=True):
    """A tiny tree in torchvision's CelebA layout: w×h = size JPEGs and the partition file."""
    base = root / "celeba" if nested else root
    images = base / "img_align_celeba"
    images.mkdir(parents=True)
    rng = np.random.default_rng(3)
    lines = []
    for i, split in enumerate(splits, 1):
        name = f"{i:06d}.jpg"
        Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)).save(images / name)
        lines.append(f"{name} {split}")
    (base / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return root


def test_celeba_fake_tree(tmp_path):
    root = fake_celeba(tmp_path / "data")
    ds = load_dataset(f"celeba:{root}", image_size=8)
    assert_images(ds, (3, 3, 8, 8))
    assert_images(load_celeba(root, size=8, split="all"), (5, 3, 8, 8))
    assert_images(load_celeba(root, size=16, split="test"), (1, 3, 16, 16))
    assert_images(load_dataset(f"celeba:{root}", image_size=8, limit=2), (2, 3, 8, 8))
    assert [f.name for f in celeba_files(root, "valid")] == ["000004.jpg"]
    # the celeba folder itself is accepted as the root too
    assert_images(load_dataset(f"celeba:{root / 'celeba'}", image_size=8), (3, 3, 8, 8))


def test_celeba_cache_reuses_the_decoded_array(tmp_path):
    root = fake_celeba(tmp_path / "data")
    cache = tmp_path / "cache"
    first = load_celeba(root, size=8, cache_dir=cache)
    files = list((cache / "celeba").glob("*.npy"))
    assert len(files) == 1
    second = load_celeba(root, size=8, cache_dir=cache)
    assert np.array_equal(first.data, second.data)
    assert list((cache / "celeba").glob("*.npy")) == files


def test_celeba_errors(tmp_path):
    raises_dataset_error(load_dataset, f"celeba:{tmp_path / 'missing'}", match="no such folder")
    raises_dataset_error(load_dataset, f"celeba:{tmp_path}", match="torchvision layout")
    root = fake_celeba(tmp_path / "a")
    (root / "celeba" / "img_align_celeba" / "000002.jpg").unlink()
    raises_dataset_error(load_dataset, f"celeba:{root}", match="missing")
    root = fake_celeba(tmp_path / "b")
    (root / "celeba" / "list_eval_partition.txt").write_text("000001.jpg train\n")
    raises_dataset_error(load_dataset, f"celeba:{root}", match="line 1")
    root = fake_celeba(tmp_path / "c", splits=(1, 2))
    raises_dataset_error(load_dataset, f"celeba:{root}", match="no images of split")
    root = fake_celeba(tmp_path / "d")
    (root / "celeba" / "list_eval_partition.txt").unlink()
    raises_dataset_error(load_dataset, f"celeba:{root}", match="torchvision layout")
