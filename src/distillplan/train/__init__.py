"""Training (torch, float32): distilling the PF-ODE flow map of an OU-evolved Gaussian mixture.

Layered on the numpy theory in :mod:`distillplan.mixture`:

* :mod:`.field` — :class:`MixtureField`: exact marginals ``p_t``, score, PF velocity, sampling.
* :mod:`.teacher` — :func:`rk4_flow_map` on the exact PF ODE and the per-segment step rule.
* :mod:`.students` — :class:`MLP` (ReLU / ReQU / alternating), :class:`StackedMLP` (n students as
  one batched computation), :func:`clip_weights_`.
* :mod:`.segments` — :func:`train_segments`: one student per grid segment on fresh samples.
* :mod:`.evaluate` — end-to-end relMSE and NLL of the composition, local segment errors.
* :mod:`.seeding`, :mod:`.runtime` — per-purpose generators; torch threads and subnormal flushing.
"""

from .evaluate import FlowMapScores, compose, eval_generator, evaluate_flow_map, local_segment_errors, relative_mse
from .field import MixtureField
from .seeding import derive_seed, make_generator
from .segments import DEFAULT_MODE, MODES, StudentSpec, TrainResult, TrainSettings, TrainTimings, train_segments
from .students import ACTIVATIONS, MLP, StackedMLP, activation_functions, clip_weights_, requ
from .teacher import (
    geometric_nodes,
    rk4_flow_map,
    rk4_linear_factor,
    rk4_linear_gain,
    rk4_nodes_map,
    segment_teacher_steps,
    TEACHER_GRIDS,
    stiff_floor,
    teacher_map,
    teacher_nodes,
    teacher_steps,
)
from .runtime import THREADS_ENV, at_most_threads, cpu_runtime, flush_denormals, resolve_threads, torch_threads

__all__ = [
    "MixtureField",
    "rk4_flow_map",
    "rk4_nodes_map",
    "rk4_linear_factor",
    "rk4_linear_gain",
    "geometric_nodes",
    "stiff_floor",
    "teacher_map",
    "teacher_nodes",
    "TEACHER_GRIDS",
    "teacher_steps",
    "segment_teacher_steps",
    "ACTIVATIONS",
    "requ",
    "activation_functions",
    "MLP",
    "StackedMLP",
    "clip_weights_",
    "MODES",
    "DEFAULT_MODE",
    "StudentSpec",
    "TrainSettings",
    "TrainTimings",
    "TrainResult",
    "train_segments",
    "relative_mse",
    "compose",
    "FlowMapScores",
    "evaluate_flow_map",
    "local_segment_errors",
    "eval_generator",
    "derive_seed",
    "make_generator",
    "THREADS_ENV",
    "resolve_threads",
    "torch_threads",
    "at_most_threads",
    "flush_denormals",
    "cpu_runtime",
]
