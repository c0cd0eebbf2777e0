"""Power iteration and the acceleration profile against known Jacobians and time derivatives."""

import numpy as np
import pytest
import torch

from distillplan import DistillPlanError
from distillplan.calibrate import (acceleration_norms, difference_steps, draw_noise, jacobian_norms, pf_trajectories,
                                   profile_density, profile_times)
from distillplan.mixture import IsotropicMixture, OUProcess, lipschitz_bound, velocity_jacobian
from distillplan.models import OUVP, FunctionField
from distillplan.nn.streams import make_generator

from .helpers import linear_field, mixture_field

BETA = 5.0


def _states(field, rows, times, seed=0):
    """Random states (rows, M, d) at each of ``times``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, len(times), *field.shape, generator=g, dtype=field.dtype)


def test_power_iteration_finds_the_largest_singular_value_of_a_nonsymmetric_matrix():
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((6, 6)) + 2.0 * np.triu(np.ones((6, 6)), 1)  # far from symmetric
    top = np.linalg.svd(matrix, compute_uv=False)[0]
    field = linear_field(matrix)
    times = np.array([0.7, 0.2])
    states = _states(field, 3, times)
    result = jacobian_norms(field, states, times, iters=200, tol=1e-12, generator=make_generator("probe", 0, "t"))
    np.testing.assert_allclose(result.norms, top, rtol=1e-10)
    assert result.converged.all() and result.unconverged.tolist() == [0, 0]
    assert np.all(result.iterations < 200)  # stopped early


def test_every_iterate_is_a_lower_bound():
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal((8, 8))
    top = np.linalg.svd(matrix, compute_uv=False)[0]
    field = linear_field(matrix)
    times = np.array([0.5])
    states = _states(field, 16, times)
    previous = np.zeros((16, 1))
    for iters in (1, 2, 3, 5, 8):
        result = jacobian_norms(field, states, times, iters=iters, tol=0.0, generator=make_generator("probe", 0, "t"))
        assert np.all(result.norms <= top * (1 + 1e-12))
        assert np.all(result.norms >= previous * (1 - 1e-12))  # non-decreasing in k
        previous = result.norms
    one = jacobian_norms(field, states, times, iters=1, generator=make_generator("probe", 0, "t"))
    assert one.iterations.tolist() == [1] and one.unconverged.tolist() == [16]  # no change measurable


def test_a_zero_jacobian_gives_zero_and_counts_as_converged():
    field = linear_field(np.zeros((3, 3)))
    result = jacobian_norms(field, _states(field, 4, [0.3, 0.1]), [0.3, 0.1], iters=5)
    assert np.all(result.norms == 0) and result.converged.all() and result.iterations.tolist() == [1, 1]


@pytest.mark.parametrize("components, dim, sigma0", [(6, 4, 1.0), (8, 2, 0.1)])
def test_exact_mixture_profile_is_below_the_bound_and_matches_the_exact_jacobian(components, dim, sigma0):
    rng = np.random.default_rng(components + dim)
    mixture = IsotropicMixture(rng.uniform(0.2, 1.0, components), rng.uniform(-3, 3, (components, dim)), sigma0)
    field = mixture_field(mixture, BETA)
    times = profile_times(field.process, 24)
    states = pf_trajectories(field, draw_noise(field, 12, seed=0), times)
    result = jacobian_norms(field, states, times, iters=30, tol=1e-6, generator=make_generator("probe", 1, "t"))
    bound = lipschitz_bound(times, mixture, OUProcess(BETA, 1.0))
    assert np.all(result.norms.max(axis=0) <= bound * (1 + 1e-9))
    x = states.numpy()
    jac = np.stack([velocity_jacobian(x[:, j], mixture, OUProcess(BETA, 1.0), t) for j, t in enumerate(times)], 1)
    exact = np.abs(np.linalg.eigvalsh(jac)).max(axis=-1)  # J is symmetric: ||J||₂ = max |eigenvalue|
    assert np.all(result.norms <= exact * (1 + 1e-9))  # power iteration is a lower bound
    assert result.converged.mean() > 0.7
    converged = result.converged
    np.testing.assert_allclose(result.norms[converged], exact[converged], rtol=1e-3)


def test_acceleration_of_a_linear_field_with_drift():
    """v = A x + t b: dv/dt = A v + b, at interior times (central) and at both ends (one-sided)."""
    rng = np.random.default_rng(2)
    matrix, offset = rng.standard_normal((4, 4)), rng.standard_normal(4)
    field = linear_field(matrix, offset=offset)
    times = np.array([1.0, 0.6, 0.3, 0.01, 0.0])  # horizon ... t_min
    states = _states(field, 5, times)
    accel = acceleration_norms(field, states, times)
    x = states.numpy()
    v = x @ matrix.T + times[None, :, None] * offset
    exact = np.linalg.norm(v @ matrix.T + offset, axis=-1)
    np.testing.assert_allclose(accel, exact, rtol=1e-7)


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-7), (torch.float32, 2e-3)])
def test_acceleration_of_a_time_dependent_field(dtype, rtol):
    """v = −t² x: dv/dt = −2t x − t² v = (t⁴ − 2t) x (second-order differences, steps from the dtype)."""
    field = FunctionField(lambda x, t: -(t * t) * x, OUVP(5.0, 1.0, 0.0), (3,), dtype=dtype)
    times = profile_times(field.process, 16)
    states = _states(field, 4, times)
    accel = acceleration_norms(field, states, times)
    exact = np.abs(times ** 4 - 2 * times)[None, :] * np.linalg.norm(states.double().numpy(), axis=-1)
    np.testing.assert_allclose(accel, exact, rtol=rtol, atol=1e-12)


def test_difference_steps_scale_with_the_dtype():
    times = np.array([1.0, 0.5, 0.1, 0.0])
    h64, h32 = difference_steps(times, torch.float64), difference_steps(times, torch.float32)
    np.testing.assert_allclose(h64 / np.array([0.5, 0.4, 0.1, 0.1]), np.finfo(np.float64).eps ** (1 / 3))
    assert np.all(h32 > h64)


def test_profile_density():
    norms = np.array([[0.0, 4.0, 9.0]])
    np.testing.assert_array_equal(profile_density("jacobian", norms), norms)
    np.testing.assert_array_equal(profile_density("acceleration", norms), [[0.0, 2.0, 3.0]])


def test_bad_input_names_the_argument():
    field = linear_field(np.eye(2))
    states = _states(field, 2, [0.5, 0.1])
    cases = [(lambda: jacobian_norms(field, states, [0.5]), "times"),
             (lambda: jacobian_norms(field, states[:, 0], [0.5, 0.1]), "states"),
             (lambda: jacobian_norms(field, states, [0.5, 2.0]), "times"),
             (lambda: jacobian_norms(field, states, [0.5, 0.1], iters=0), "iters"),
             (lambda: jacobian_norms(field, states, [0.5, 0.1], tol=-1), "tol"),
             (lambda: jacobian_norms(field, states, [0.5, 0.1], generator=3), "generator"),
             (lambda: jacobian_norms(object(), states, [0.5, 0.1]), "field"),
             (lambda: acceleration_norms(field, states, [0.5, 0.1], steps=[0.1, -1.0]), "steps"),
             (lambda: profile_density("curvature", [[1.0]]), "profile"),
             (lambda: profile_density("jacobian", [[-1.0]]), "norms"),
             (lambda: profile_density("jacobian", [[np.nan]]), "norms")]
    for call, name in cases:
        with pytest.raises(DistillPlanError) as err:
            call()
        assert err.value.argument == name, (name, err.value)
