"""Datasets for the latent studies: images (N, C, H, W) in [0, 1] or latents (N, d), float32.

Sources (the ``dataset`` spec string, see :func:`parse_dataset`):

* ``digits`` — scikit-learn's bundled 8×8 handwritten digits (1797 images, no download);
* ``patches[:SIZE]`` — greyscale SIZE×SIZE patches (default 8) cut from the natural photograph
  that ships with matplotlib (``grace_hopper.jpg``; offline, no scikit-image needed);
* ``folder:PATH`` — a folder of PNG/JPEG images of one size (greyscale or RGB);
* ``npy:PATH`` — a ``.npy`` array of images ((N, H, W), (N, C, H, W) or (N, H, W, C)) or of
  latents ((N, d));
* ``celeba:ROOT`` — CelebA in the torchvision layout under ROOT (``celeba/img_align_celeba/*.jpg``
  and ``celeba/list_eval_partition.txt``), read with Pillow; nothing is downloaded.
"""

from .arrays import load_npy
from .celeba import CELEBA_SPLITS, load_celeba
from .dataset import Dataset, check_images, check_latents
from .digits import load_digits
from .folder import IMAGE_SUFFIXES, load_folder
from .patches import load_patches
from .spec import DATASET_KINDS, DatasetSpec, load_dataset, parse_dataset

__all__ = [
    "CELEBA_SPLITS", "DATASET_KINDS", "Dataset", "DatasetSpec", "IMAGE_SUFFIXES", "check_images", "check_latents",
    "load_celeba", "load_dataset", "load_digits", "load_folder", "load_npy", "load_patches", "parse_dataset",
]
