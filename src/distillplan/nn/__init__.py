"""Torch building blocks shared by every trained family (float32 training).

* :mod:`.students` — :class:`MLP` (ReLU / ReQU / alternating), :class:`StackedMLP` (n students as one
  batched computation), :func:`clip_weights_`.
* :mod:`.residual` — :class:`ResidualComposition` (residual Euler blocks) and :class:`CoordinateTransformer`.
* :mod:`.fit` — :class:`TrainSettings` and :func:`fit`, the regression loop on fresh data.
* :mod:`.optim` — AdamW and the per-student gradient clip.
* :mod:`.metrics` — measured Lipschitz constants, affine floors, parameter counts.
* :mod:`.streams`, :mod:`.runtime` — per-purpose random generators; device, threads and subnormal flushing.
"""

from .fit import FitResult, TrainSettings, fit
from .metrics import affine_fit, jacobian_spectral_norms, parameter_count, weight_spectral_product
from .residual import CoordinateTransformer, ResidualComposition, euler_node_times, residual_euler
from .runtime import THREADS_ENV, at_most_threads, cpu_runtime, flush_denormals, resolve_threads, torch_threads
from .streams import derive_seed, make_generator
from .students import ACTIVATIONS, MLP, StackedMLP, activation_functions, clip_weights_, requ

__all__ = [
    "ACTIVATIONS", "CoordinateTransformer", "FitResult", "MLP", "ResidualComposition", "StackedMLP", "THREADS_ENV",
    "TrainSettings", "activation_functions", "affine_fit", "at_most_threads", "clip_weights_", "cpu_runtime",
    "derive_seed", "euler_node_times", "fit", "flush_denormals", "jacobian_spectral_norms", "make_generator",
    "parameter_count", "requ", "residual_euler", "resolve_threads", "torch_threads", "weight_spectral_product",
]
