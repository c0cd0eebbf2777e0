import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from distillplan.errors import DistillPlanError
from distillplan.mixture import IsotropicMixture, paper_means, pf_velocity, stability_grid, uniform_grid
from distillplan.flowmap import (
    MixtureField,
    geometric_nodes,
    relative_mse,
    rk4_flow_map,
    rk4_linear_factor,
    rk4_nodes_map,
    segment_teacher_steps,
    stiff_floor,
    TEACHER_GRIDS,
    teacher_map,
    teacher_nodes,
    teacher_steps,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _scipy_flow(mixture, process, x, t_from, t_to):
    def rhs(t, y):
        return pf_velocity(y.reshape(-1, mixture.dim), mixture, process, t).ravel()

    sol = solve_ivp(rhs, (t_from, t_to), x.ravel(), method="DOP853", rtol=1e-12, atol=1e-12)
    assert sol.success
    return sol.y[:, -1].reshape(x.shape)


def test_rk4_is_fourth_order(small_mixture, process):
    field = MixtureField(small_mixture, process, torch.float64)
    x = field.sample(0.4, 64, torch.Generator().manual_seed(0))
    exact = rk4_flow_map(field, x, 0.4, 0.02, 2048)
    errors = [float((rk4_flow_map(field, x, 0.4, 0.02, n) - exact).norm()) for n in (16, 32, 64)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(12.0 < r < 20.0 for r in ratios), (errors, ratios)


def test_rk4_maps_p_T_samples_like_scipy(small_mixture, process):
    field = MixtureField(small_mixture, process, torch.float64)
    x = field.sample(1.0, 6, torch.Generator().manual_seed(1))
    reference = _scipy_flow(small_mixture, process, x.numpy(), 1.0, 0.0)
    fine = rk4_flow_map(field, x, 1.0, 0.0, 400).numpy()
    np.testing.assert_allclose(fine, reference, rtol=1e-7, atol=1e-7)
    coarse32 = rk4_flow_map(field.to(torch.float32), x.float(), 1.0, 0.0, 100).double()
    assert relative_mse(coarse32, torch.tensor(reference)) < 1e-6


def test_teacher_output_has_the_data_distribution(process):
    """d = 2, K = 3, σ0 = 0.2: p_1 pushed back to t = 0 has the component weights and spread of p_0."""
    means = np.array([[2.0, 0.0], [-1.0, 1.5], [-1.0, -1.5]])
    mixture = IsotropicMixture(np.array([0.5, 0.3, 0.2]), means, 0.2)
    field = MixtureField(mixture, process, torch.float64)
    x0 = rk4_flow_map(field, field.sample(1.0, 20_000, torch.Generator().manual_seed(2)), 1.0, 0.0, 200).numpy()
    labels = np.argmin(((x0[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(labels, minlength=3) / len(x0), [0.5, 0.3, 0.2], atol=0.015)
    spread = np.sqrt(((x0 - means[labels]) ** 2).mean())
    assert abs(spread - 0.2) < 0.01


def test_subspace_split_equals_full_rk4(process):
    mixture = IsotropicMixture.equal_weights(paper_means(5, 12, 0), 0.8)
    field = MixtureField(mixture, process, torch.float64)
    x = field.sample(0.9, 300, torch.Generator().manual_seed(3))
    full = rk4_flow_map(field, x, 0.9, 0.0, 37, subspace=False)
    split = rk4_flow_map(field, x, 0.9, 0.0, 37, subspace=True)
    np.testing.assert_allclose(split.numpy(), full.numpy(), rtol=1e-11, atol=1e-11)


def test_chunking_and_shape(small_mixture, process):
    field = MixtureField(small_mixture, process, torch.float64)
    x = field.sample(0.5, 100, torch.Generator().manual_seed(4))
    whole = rk4_flow_map(field, x, 0.5, 0.1, 9, chunk_rows=1000)
    pieces = rk4_flow_map(field, x, 0.5, 0.1, 9, chunk_rows=7)
    torch.testing.assert_close(whole, pieces, rtol=1e-12, atol=1e-12)
    assert rk4_flow_map(field, x.reshape(4, 25, 3), 0.5, 0.1, 9).shape == (4, 25, 3)
    assert torch.equal(x, field.sample(0.5, 100, torch.Generator().manual_seed(4)))  # input untouched


def test_step_allocation_matches_the_authors(process):
    mixture = IsotropicMixture.equal_weights(paper_means(20, 64, 0), 1.0)
    assert segment_teacher_steps(stability_grid(mixture, process, 8).times, 1.0) == [79, 7, 5, 5, 5, 5, 5, 5]
    assert segment_teacher_steps(stability_grid(mixture, process, 4).times, 1.0) == [86, 7, 5, 5]
    assert segment_teacher_steps(stability_grid(mixture, process, 16).times, 1.0)[:3] == [72, 7, 5]
    assert segment_teacher_steps(uniform_grid(8, 1.0).times, 1.0) == [12] * 8
    assert segment_teacher_steps(uniform_grid(4, 1.0).times, 1.0) == [25] * 4
    assert segment_teacher_steps(uniform_grid(16, 1.0).times, 1.0) == [6] * 16
    assert teacher_steps(0.3, 0.1, 1.0, total_steps=100, minimum=5) == 20


def test_bad_arguments(small_mixture, process):
    field = MixtureField(small_mixture, process)
    with pytest.raises(DistillPlanError):
        rk4_flow_map(field, torch.zeros(2, 3), 0.5, 0.0, 0)
    with pytest.raises(DistillPlanError):
        rk4_flow_map(field, torch.zeros(2, 4), 0.5, 0.0, 3)
    with pytest.raises(DistillPlanError):
        teacher_steps(0.5, 0.0, horizon=0.0)


def test_nodes_map_generalises_equal_steps(small_mixture, process):
    field = MixtureField(small_mixture, process, torch.float64)
    x = field.sample(0.8, 32, torch.Generator().manual_seed(2))
    nodes = 0.8 + (0.1 - 0.8) * np.arange(41) / 40
    np.testing.assert_allclose(rk4_nodes_map(field, x, nodes).numpy(), rk4_flow_map(field, x, 0.8, 0.1, 40).numpy(),
                               rtol=1e-12, atol=1e-12)
    # split and full integration agree on any node sequence
    uneven = np.r_[0.8, 0.5, 0.45, 0.2, 0.1]
    np.testing.assert_allclose(rk4_nodes_map(field, x, uneven).numpy(),
                               rk4_nodes_map(field, x, uneven, subspace=False).numpy(), rtol=1e-10, atol=1e-10)


def test_geometric_teacher_is_accurate_where_equal_steps_blow_up():
    """σ0 = 1e−3: 100 equal RK4 steps multiply orthogonal directions by ≈ −995 (exact: σ0/s_T ≈ 1e−3);
    100 steps geometric in t down to the stiff floor reproduce the exact gain and the data's scale."""
    from distillplan.mixture import OUProcess

    mixture = IsotropicMixture.equal_weights(paper_means(20, 64, 0), 1e-3)
    process = OUProcess(5.0, 1.0)
    field = MixtureField(mixture, process, torch.float64)
    floor = stiff_floor(1e-3, 5.0, 1.0)
    assert floor == pytest.approx(1e-9)
    nodes = geometric_nodes(1.0, 100, floor)
    assert len(nodes) == 101 and nodes[0] == 1.0 and nodes[-2] == pytest.approx(floor) and nodes[-1] == 0.0
    exact = np.sqrt(field.variance(0.0) / field.variance(1.0))
    assert rk4_linear_factor(field, nodes) == pytest.approx(exact, rel=1e-3)
    assert rk4_linear_factor(field, np.linspace(1.0, 0.0, 101)) == pytest.approx(-994.67, rel=1e-4)
    x = field.sample(1.0, 256, torch.Generator().manual_seed(3))
    y = rk4_nodes_map(field, x, nodes)
    nearest = torch.cdist(y, torch.tensor(mixture.means)).min(dim=1).values
    assert float(nearest.max()) < 0.05  # every output sits on a mode (σ0·√d = 0.008)
    finer = rk4_nodes_map(field, x, geometric_nodes(1.0, 400, floor))
    assert relative_mse(y, finer) < 1e-2


@pytest.mark.parametrize("nodes", [[0.5], [0.5, 0.6, 0.2], [0.5, np.nan, 0.1], [0.5, -0.1], [0.3, 0.3, 0.0]])
def test_nodes_are_validated(small_mixture, process, nodes):
    field = MixtureField(small_mixture, process, torch.float64)
    with pytest.raises(DistillPlanError, match="nodes"):
        rk4_nodes_map(field, torch.zeros(2, small_mixture.dim, dtype=torch.float64), nodes)


def test_geometric_nodes_validation():
    with pytest.raises(DistillPlanError, match="floor"):
        geometric_nodes(1.0, 10, 2.0)
    with pytest.raises(DistillPlanError, match="steps"):
        geometric_nodes(1.0, 1, 1e-3)
    with pytest.raises(DistillPlanError, match="sigma0"):
        stiff_floor(0.0, 5.0, 1.0)


def test_teacher_nodes_and_map(small_mixture, process):
    field = MixtureField(small_mixture, process, torch.float64)
    x = field.sample(0.9, 16, torch.Generator().manual_seed(4))
    assert torch.equal(teacher_map(field, x, 0.9, 0.0, 30), rk4_flow_map(field, x, 0.9, 0.0, 30))
    uniform = teacher_nodes(field, 0.9, 0.1, 8)
    np.testing.assert_allclose(uniform, np.linspace(0.9, 0.1, 9), rtol=0, atol=1e-15)
    np.testing.assert_allclose(teacher_nodes(field, 0.9, 0.1, 8, "geometric"), np.geomspace(0.9, 0.1, 9))
    to_zero = teacher_nodes(field, 0.9, 0.0, 8, "geometric")
    assert to_zero[-1] == 0.0 and to_zero[-2] == pytest.approx(stiff_floor(0.6, 5.0, 0.9))
    np.testing.assert_allclose(teacher_map(field, x, 0.9, 0.0, 8, "geometric").numpy(),
                               rk4_nodes_map(field, x, to_zero).numpy(), rtol=0, atol=0)
    with pytest.raises(DistillPlanError, match="grid"):
        teacher_nodes(field, 0.9, 0.0, 8, "adaptive")
    with pytest.raises(DistillPlanError, match="grid"):
        teacher_nodes(field, 0.1, 0.9, 8, "geometric")
    assert TEACHER_GRIDS == ("uniform", "geometric")


@settings(max_examples=60, deadline=None)
@example(t_from=1.0, frac=5.345494488119235e-138, steps=2, grid="uniform", sigma0=1.0)  # 1 + (t − 1) = 0
@given(t_from=st.floats(1e-3, 5.0), frac=st.floats(0.0, 0.99), steps=st.integers(2, 200),
       grid=st.sampled_from(TEACHER_GRIDS), sigma0=st.floats(1e-4, 2.0))
def test_teacher_nodes_are_strictly_decreasing_with_exact_ends(t_from, frac, steps, grid, sigma0):
    from distillplan.mixture import OUProcess

    field = MixtureField(IsotropicMixture.equal_weights(np.zeros((1, 2)), sigma0), OUProcess(5.0, 5.0),
                         torch.float64)
    t_to = t_from * frac
    nodes = teacher_nodes(field, t_from, t_to, steps, grid)
    assert len(nodes) == steps + 1 and nodes[0] == pytest.approx(t_from, rel=1e-15)
    assert nodes[-1] == pytest.approx(t_to, rel=1e-12, abs=0) and np.all(np.diff(nodes) < 0)


def test_equal_steps_end_exactly_at_t_to(small_mixture, process):
    """``t_from + (t_to − t_from)`` can miss ``t_to`` by an ulp; the last step must land on it."""
    field = MixtureField(small_mixture, process, torch.float64)
    x = field.sample(0.3, 4, torch.Generator().manual_seed(5))
    t_to = 0.1 + 2e-17  # 0.3 + (t_to − 0.3) != t_to in float64
    assert 0.3 + (t_to - 0.3) != t_to
    nodes = teacher_nodes(field, 0.3, t_to, 3)
    assert nodes[-1] == t_to
    np.testing.assert_array_equal(rk4_flow_map(field, x, 0.3, t_to, 3).numpy(), rk4_nodes_map(field, x, nodes).numpy())
