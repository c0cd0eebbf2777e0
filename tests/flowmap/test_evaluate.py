import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.mixture import log_density, stability_grid
from distillplan.flowmap import (
    MixtureField,
    compose,
    eval_generator,
    evaluate_flow_map,
    local_segment_errors,
    relative_mse,
    rk4_flow_map,
    segment_teacher_steps,
)

pytestmark = pytest.mark.usefixtures("one_thread")


class TeacherStudent(torch.nn.Module):
    """A 'student' that is the segment teacher itself (what perfect training would give)."""

    def __init__(self, field, t_from, t_to, steps):
        super().__init__()
        self.args = (field, t_from, t_to, steps)

    def forward(self, x):
        field, t_from, t_to, steps = self.args
        return rk4_flow_map(field, x, t_from, t_to, steps)


def test_relative_mse_is_a_ratio_of_sums():
    ref = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    pred = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    assert relative_mse(pred, ref) == pytest.approx((1.0 + 4.0) / (1.0 + 9.0))
    with pytest.raises(DistillPlanError):
        relative_mse(pred, ref[:1])


def test_perfect_students_score_the_teacher_composition(small_mixture, process):
    field = MixtureField(small_mixture, process, torch.float64)
    times = stability_grid(small_mixture, process, 3).times
    steps = segment_teacher_steps(times, 1.0)
    students = [TeacherStudent(field, times[k], times[k + 1], steps[k]) for k in range(3)]
    scores = evaluate_flow_map(field, students, 500, eval_generator(0, 3, 0.6), batch_rows=128, times=times,
                               teacher_steps=steps)
    assert scores.relmse == pytest.approx(scores.teacher_relmse, rel=1e-9)
    assert scores.relmse < 1e-6 and scores.samples == 500
    x_T = field.sample(1.0, 500, eval_generator(0, 3, 0.6))
    y = compose(students, x_T).numpy()
    # the x_T are one draw of 500, scored in batches of 128
    assert scores.nll0 == pytest.approx(-log_density(y, small_mixture, process, 0.0).mean(), rel=1e-9)
    local = local_segment_errors(field, students, times, steps, samples=64)
    assert len(local) == 3 and max(local) < 1e-6


def test_eval_stream_depends_on_n_and_sigma_not_on_anything_else():
    a = torch.randn(3, generator=eval_generator(0, 8, 1.0))
    assert torch.equal(a, torch.randn(3, generator=eval_generator(0, 8, 1.0)))
    assert not torch.equal(a, torch.randn(3, generator=eval_generator(0, 4, 1.0)))
    assert not torch.equal(a, torch.randn(3, generator=eval_generator(0, 8, 0.5)))
