"""Paper 2 (arXiv 2606.03820) in torch: distilling the PF-ODE flow map of an OU-evolved Gaussian mixture.

* :mod:`.field` — :class:`MixtureField`: exact marginals ``p_t``, score, PF velocity, sampling.
* :mod:`.teacher` — RK4 teachers on the exact PF ODE (equal or geometric steps), their linear gains.
* :mod:`.segments` — :func:`train_segments`: one student per grid segment on fresh samples.
* :mod:`.pool` — :class:`TeacherPool`: teacher trajectories of any velocity field, run once, read at any t.
* :mod:`.generic` — :func:`distill_segments`: segment students of any field, trained on a teacher pool.
* :mod:`.evaluate` — end-to-end relMSE and NLL of the composition, local segment errors.
"""

from .evaluate import FlowMapScores, compose, eval_generator, evaluate_flow_map, local_segment_errors, relative_mse
from .field import MixtureField
from .generic import compose_flat, distill_segments
from .maps import map_pairs, score_map
from .pool import TeacherPool, pool_nbytes
from .segments import DEFAULT_MODE, MODES, StudentSpec, TrainResult, train_segments
from .teacher import (
    TEACHER_GRIDS,
    exact_linear_gain,
    geometric_nodes,
    rk4_flow_map,
    rk4_linear_factor,
    rk4_linear_gain,
    rk4_map,
    rk4_nodes_map,
    segment_teacher_steps,
    stiff_floor,
    teacher_map,
    teacher_nodes,
    teacher_steps,
)

__all__ = [
    "DEFAULT_MODE", "FlowMapScores", "MODES", "MixtureField", "StudentSpec", "TEACHER_GRIDS", "TeacherPool",
    "TrainResult", "compose_flat", "distill_segments", "pool_nbytes",
    "compose", "eval_generator", "evaluate_flow_map", "exact_linear_gain", "geometric_nodes", "local_segment_errors",
    "map_pairs", "relative_mse", "rk4_flow_map", "rk4_linear_factor", "rk4_linear_gain", "rk4_map", "rk4_nodes_map",
    "score_map", "segment_teacher_steps", "stiff_floor", "teacher_map", "teacher_nodes", "teacher_steps",
    "train_segments",
]
