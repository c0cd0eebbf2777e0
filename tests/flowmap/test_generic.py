"""distill_segments / compose_flat: segment students of any field trained on a teacher pool."""

import numpy as np
import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.flowmap import StudentSpec, TeacherPool, compose_flat, distill_segments
from distillplan.flowmap.generic import pool_segment_steps
from distillplan.mixture import OUProcess, paper_mixture
from distillplan.models import CosineVP, FunctionField, MixtureField
from distillplan.nn import TrainSettings

pytestmark = pytest.mark.usefixtures("one_thread")

DATA_STD = 0.5
SPEC = StudentSpec(width=64, depth=2, activation="relu")


def variance(process, t):
    return process.alpha(t) ** 2 * DATA_STD**2 + process.sigma(t) ** 2


@pytest.fixture(scope="module")
def linear():
    """A linear PF field (Gaussian data on cosine VP) on images of shape (2, 2), and its pool."""
    torch.set_num_threads(1)
    process = CosineVP()

    def velocity(x, t):
        a, b = process.pf_coefficients(t)
        return a * x + b * (process.sigma(t) / variance(process, t)) * x

    field = FunctionField(velocity, process, (2, 2), label="gaussian")
    return field, TeacherPool.build(field, 1024, seed=0, points=33, substeps=4)


def test_students_learn_the_linear_flow_map(linear):
    field, pool = linear
    times = [pool.horizon, 0.6, 0.3, pool.t_min]
    result = distill_segments(pool, times, TrainSettings(steps=300, batch=128, lr=1e-3), SPEC, seed=0)
    assert len(result.students) == 3 and result.mode == "sequential" and result.steps == 300
    assert max(result.final_loss) < 1e-2
    assert len(result.teacher_steps) == 3 and sum(result.teacher_steps) >= 4 * (pool.points - 1)
    assert result.timings.total_s >= result.timings.forward_backward_s > 0

    noise = field.prior(2000, torch.Generator().manual_seed(1234))  # held out: not the pool's stream
    exact = noise * float(np.sqrt(variance(field.process, pool.t_min) / variance(field.process, pool.horizon)))
    out = compose_flat(result.students, noise)
    assert out.shape == noise.shape and out.dtype == noise.dtype

    def relmse(y):
        return float(((y - exact) ** 2).sum() / (exact**2).sum())

    assert relmse(out) < 0.05 * relmse(noise)


def test_same_seed_same_students_other_seed_differs(linear):
    _, pool = linear
    times = [pool.horizon, 0.5, pool.t_min]
    settings = TrainSettings(steps=5, batch=16)
    a = distill_segments(pool, times, settings, StudentSpec(8, 1), seed=1)
    b = distill_segments(pool, times, settings, StudentSpec(8, 1), seed=1)
    c = distill_segments(pool, times, settings, StudentSpec(8, 1), seed=2)
    x = torch.randn(5, 4)
    for sa, sb, sc in zip(a.students, b.students, c.students):
        assert torch.equal(sa(x), sb(x)) and not torch.equal(sa(x), sc(x))
        assert not any(p.requires_grad for p in sa.parameters())


def test_bad_grids_raise(linear):
    _, pool = linear
    settings = TrainSettings(steps=1, batch=4)
    for times in ([0.5], [[0.9, 0.5]], [0.3, 0.6], [0.6, 0.6, 0.3], [0.9, float("nan"), 0.1],
                  [pool.horizon + 0.1, 0.5], [0.5, pool.t_min - 1e-3]):
        with pytest.raises(DistillPlanError) as info:
            distill_segments(pool, times, settings, SPEC)
        assert info.value.argument == "times"
    with pytest.raises(DistillPlanError):
        distill_segments("pool", [0.9, 0.1], settings)
    with pytest.raises(DistillPlanError):
        compose_flat([], torch.zeros(2, 4))


def test_pool_segment_steps_count_the_pool_intervals(linear):
    _, pool = linear
    nodes = pool.times
    assert pool_segment_steps(pool, [nodes[0], nodes[2], nodes[-1]]) == [2 * 4, (pool.points - 3) * 4]
    assert pool_segment_steps(pool, [0.5 * (nodes[3] + nodes[4]), nodes[4]]) == [4]


def test_mixture_field_pool_trains():
    field = MixtureField(paper_mixture(3, 4, 0, 2.0, 0.7), OUProcess(5.0, 1.0))
    pool = TeacherPool.build(field, 32, points=9, substeps=2)
    result = distill_segments(pool, [1.0, 0.2, 0.0], TrainSettings(steps=20, batch=16, lr=1e-3),
                              StudentSpec(16, 1), seed=0)
    out = compose_flat(result.students, pool.states[:, 0])
    assert out.shape == (32, 4) and torch.isfinite(out).all()
    assert all(np.isfinite(result.final_loss))
