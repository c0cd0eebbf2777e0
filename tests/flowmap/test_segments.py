import numpy as np
import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.mixture import IsotropicMixture, OUProcess, paper_means, stability_grid
from distillplan.flowmap import MixtureField, StudentSpec, rk4_flow_map, train_segments
from distillplan.nn import TrainSettings

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def setup():
    mixture = IsotropicMixture.equal_weights(paper_means(4, 6, 0, box=2.0), 0.7)
    process = OUProcess(5.0, 1.0)
    return MixtureField(mixture, process), stability_grid(mixture, process, 3).times


SPEC = StudentSpec(width=16, depth=2, activation="alternating")


def test_batched_training_equals_one_by_one(setup):
    field, times = setup
    settings = TrainSettings(steps=25, batch=32, lr=1e-3, chunk_steps=10)
    batched = train_segments(field, times, settings, SPEC, seed=3, mode="batched")
    sequential = train_segments(field, times, settings, SPEC, seed=3, mode="sequential")
    assert batched.mode == "batched" and sequential.mode == "sequential"
    for a, b in zip(batched.students, sequential.students):
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(batched.final_loss, sequential.final_loss, rtol=1e-3)


def test_same_seed_same_students_other_seed_differs(setup):
    field, times = setup
    settings = TrainSettings(steps=8, batch=16)
    a = train_segments(field, times, settings, SPEC, seed=1)
    b = train_segments(field, times, settings, SPEC, seed=1)
    c = train_segments(field, times, settings, SPEC, seed=2)
    x = torch.randn(5, 6)
    for sa, sb, sc in zip(a.students, b.students, c.students):
        assert torch.equal(sa(x), sb(x))
        assert not torch.equal(sa(x), sc(x))


def test_training_reduces_the_loss(setup):
    field, times = setup
    settings = TrainSettings(steps=300, batch=64, lr=3e-3)
    result = train_segments(field, times, settings, SPEC, seed=0)
    k = 0
    x = field.sample(float(times[k]), 512, torch.Generator().manual_seed(9))
    y = rk4_flow_map(field, x, float(times[k]), float(times[k + 1]), result.teacher_steps[k])
    untrained = train_segments(field, times, TrainSettings(steps=1, batch=8, lr=1e-9), SPEC, seed=0).students[k]
    assert torch.mean((result.students[k](x) - y) ** 2) < 0.5 * torch.mean((untrained(x) - y) ** 2)
    assert result.timings.total_s >= result.timings.forward_backward_s > 0
    assert result.teacher_steps == [86, 7, 7] or len(result.teacher_steps) == 3


@pytest.mark.parametrize("mode", ["batched", "sequential"])
def test_weight_bound_holds_after_every_step(setup, mode):
    field, times = setup
    settings = TrainSettings(steps=20, batch=16, lr=0.05, weight_bound=0.02, grad_clip=None)
    result = train_segments(field, times, settings, SPEC, seed=0, mode=mode)
    for student in result.students:
        for weight in student.weight_tensors():
            assert weight.abs().max() <= 0.02 + 1e-12


def test_bad_arguments(setup):
    field, times = setup
    with pytest.raises(DistillPlanError):
        train_segments(field, times, TrainSettings(steps=2), SPEC, mode="gpu")
    with pytest.raises(DistillPlanError):
        train_segments(field, times[::-1], TrainSettings(steps=2), SPEC)
    with pytest.raises(DistillPlanError):
        train_segments(field.to(torch.float64), times, TrainSettings(steps=2), SPEC)
    with pytest.raises(DistillPlanError):
        TrainSettings(steps=0)
    with pytest.raises(DistillPlanError):
        StudentSpec(activation="tanh")
