"""TeacherPool: exact teacher trajectories of a Gaussian-data PF field, Hermite reads, seeds, saving."""

import numpy as np
import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.flowmap import TeacherPool, pool_nbytes
from distillplan.mixture import OUProcess, paper_mixture
from distillplan.models import OUVP, CosineVP, FunctionField, MixtureField

pytestmark = pytest.mark.usefixtures("one_thread")

DATA_STD = 0.5  # data ~ N(0, s² I): p_t = N(0, V(t) I), V = α² s² + σ²


def gaussian_field(process, shape=(3,), dtype=torch.float64):
    """The exact PF velocity v = a x + b ε̂, ε̂ = σ x / V(t), of Gaussian data under ``process``."""
    def velocity(x, t):
        a, b = process.pf_coefficients(t)
        return a * x + b * (process.sigma(t) / variance(process, t)) * x

    return FunctionField(velocity, process, shape, dtype=dtype, label="gaussian")


def variance(process, t):
    return process.alpha(t) ** 2 * DATA_STD**2 + process.sigma(t) ** 2


def exact_states(process, start, t_from, t):
    """x(t) = x(t_from) · √(V(t)/V(t_from)) for every time in ``t``: ``(n, len(t), *shape)``."""
    gain = torch.as_tensor(np.sqrt(variance(process, np.atleast_1d(t)) / variance(process, t_from)))
    return start.double()[:, None] * gain.reshape(1, -1, *([1] * (start.dim() - 1)))


@pytest.fixture(scope="module", params=["cosine-vp", "ou"])
def built(request):
    torch.set_num_threads(1)
    process = CosineVP() if request.param == "cosine-vp" else OUVP(beta=5.0)
    return process, TeacherPool.build(gaussian_field(process), 64, seed=0, points=65, substeps=4, batch=40)


def test_pool_layout_and_size(built):
    process, pool = built
    assert pool.states.shape == pool.velocities.shape == (64, 65, 3)
    assert pool.states.dtype == torch.float32 and pool.device.type == "cpu"
    assert pool.horizon == process.horizon and pool.t_min == process.t_min
    assert np.all(np.diff(pool.times) < 0)
    assert pool.nbytes == pool_nbytes(64, 65, (3,)) == 64 * 65 * 3 * 4 * 2
    assert pool.source["source"] == "gaussian"


def test_nodes_match_the_closed_form(built):
    process, pool = built
    exact = exact_states(process, pool.states[:, 0], pool.horizon, pool.times)
    assert torch.max(torch.abs(pool.states.double() - exact)) < 1e-6 * max(1.0, float(exact.abs().max()))
    # stored velocities are v(x, t) at the stored states
    field = gaussian_field(process)
    for j in (0, 17, 64):
        v = field.velocity(pool.states[:, j].double(), float(pool.times[j]))
        torch.testing.assert_close(pool.velocities[:, j].double(), v, rtol=1e-5, atol=1e-5)


def test_states_at_nodes_are_exact_and_midpoints_interpolate(built):
    process, pool = built
    for j in (0, 9, 64):
        assert torch.equal(pool.states_at(pool.times[j]), pool.states[:, j])
    mids = 0.5 * (pool.times[:-1] + pool.times[1:])
    start = pool.states[:, 0]
    worst = 0.0
    for t in mids:
        exact = exact_states(process, start, pool.horizon, t)[:, 0]
        worst = max(worst, float(torch.linalg.norm(pool.states_at(t).double() - exact) / torch.linalg.norm(exact)))
    assert worst < 1e-5


def test_out_of_span_times_raise(built):
    _, pool = built
    for t in (pool.t_min - 1e-3, pool.horizon + 1e-3, float("nan"), float("inf"), "x"):
        with pytest.raises(DistillPlanError) as info:
            pool.states_at(t)
        assert info.value.argument == "t"


def test_same_seed_same_pool_other_seed_differs():
    process = CosineVP()
    field = gaussian_field(process, (2,))
    a = TeacherPool.build(field, 8, seed=3, points=9, substeps=2)
    b = TeacherPool.build(field, 8, seed=3, points=9, substeps=2, batch=3)  # batching changes nothing
    c = TeacherPool.build(field, 8, seed=4, points=9, substeps=2)
    torch.testing.assert_close(a.states, b.states, rtol=0, atol=1e-7)
    assert not torch.allclose(a.states, c.states)


def test_float32_field_and_saving_round_trip(tmp_path):
    process = OUVP(beta=5.0)
    pool = TeacherPool.build(gaussian_field(process, (2, 2), torch.float32), 6, points=9, substeps=2)
    back = TeacherPool.from_dict(pool.to_dict())
    loaded = TeacherPool.load(pool.save(tmp_path / "pool.pt"))
    for other in (back, loaded):
        assert torch.equal(other.states, pool.states) and torch.equal(other.velocities, pool.velocities)
        assert np.array_equal(other.times, pool.times) and other.shape == (2, 2)
        assert other.process.config() == process.config()
        assert torch.equal(other.states_at(0.3), pool.states_at(0.3))
    with pytest.raises(DistillPlanError):
        TeacherPool.from_dict({"format": 99})


def test_bad_arguments_raise():
    field = gaussian_field(CosineVP(), (2,))
    with pytest.raises(DistillPlanError):
        TeacherPool.build("not a field", 4)
    with pytest.raises(DistillPlanError):
        TeacherPool.build(field, 0)
    with pytest.raises(DistillPlanError):
        TeacherPool.build(field, 4, points=1)

    def broken(x, t):
        return x * float("nan")

    with pytest.raises(DistillPlanError) as info:
        TeacherPool.build(FunctionField(broken, CosineVP(), (2,)), 4, points=5, substeps=1)
    assert info.value.argument == "field"


def test_mixture_field_smoke():
    mixture = paper_mixture(3, 4, 0, 2.0, 0.7)
    field = MixtureField(mixture, OUProcess(5.0, 1.0))
    pool = TeacherPool.build(field, 16, points=17, substeps=2)
    assert pool.t_min == 0.0 and pool.horizon == 1.0
    assert torch.isfinite(pool.states).all() and torch.isfinite(pool.velocities).all()
    v = field.velocity(pool.states[:, 5].double(), float(pool.times[5]))
    torch.testing.assert_close(pool.velocities[:, 5].double(), v, rtol=1e-5, atol=1e-5)
    assert pool.states_at(0.5).shape == (16, 4)
    # the data end lies near the mixture's means (box 2, σ0 0.7), not at the noise
    assert float(pool.states_at(0.0).abs().max()) < 10.0
