"""Torch building blocks shared by every trained family (float32 training).

* :mod:`.students` — :class:`MLP` (ReLU / ReQU / alternating), :class:`StackedMLP` (n students as one
  batched computation), :func:`clip_weights_`.
* :mod:`.residual` — :class:`ResidualComposition` (residual Euler blocks) and :class:`CoordinateTransformer`.
* :mod:`.fit` — :func:`train`, the one training loop, and :func:`fit`, its regression case on fresh data.
* :mod:`.optim` — AdamW and the per-student gradient clip.
* :mod:`.metrics` — measured Lipschitz constants, affine floors, parameter counts.
* :mod:`.streams`, :mod:`.runtime` — per-purpose random generators; device, threads and subnormal flushing.
"""

from .fit import FitResult, FitTimings, RegressionLoss, TrainSettings, fit, train
from .metrics import (RelativeErrors, affine_fit, batched_relative_mse, jacobian_spectral_norms, parameter_count,
                      relative_mse, weight_spectral_product)
from .residual import CoordinateTransformer, ResidualComposition, euler_node_times, residual_euler
from .runtime import (THREADS_ENV, at_most_threads, cpu_runtime, flush_denormals, resolve_device, resolve_threads,
                      torch_threads)
from .streams import PURPOSES, derive_seed, make_generator, numpy_generator
from .students import ACTIVATIONS, MLP, StackedMLP, activation_functions, clip_weights_, requ

__all__ = [
    "ACTIVATIONS", "CoordinateTransformer", "FitResult", "FitTimings", "MLP", "PURPOSES", "RegressionLoss",
    "RelativeErrors", "ResidualComposition", "StackedMLP", "THREADS_ENV", "TrainSettings", "activation_functions",
    "affine_fit", "at_most_threads", "batched_relative_mse", "clip_weights_", "cpu_runtime", "derive_seed",
    "euler_node_times", "fit", "flush_denormals", "jacobian_spectral_norms", "make_generator", "numpy_generator",
    "parameter_count", "relative_mse", "requ", "residual_euler", "resolve_device", "resolve_threads", "torch_threads",
    "train", "weight_spectral_product",
]
