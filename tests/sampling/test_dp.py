"""The GITS-style and OptimalSteps-style programmes against brute force over every path."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillplan import DistillPlanError
from distillplan.sampling import gits_steps, optimal_steps


def _brute_gits(C, n, gamma):
    P = C.shape[0]
    best = (np.inf, None)
    for inner in itertools.combinations(range(1, P - 1), n - 1):
        path = (0, *inner, P - 1)
        total = 0.0
        for i, j in zip(path, path[1:]):
            total = gamma * total + C[i, j]
        best = min(best, (total, list(path)), key=lambda b: b[0])
    return best


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8), st.integers(0, 10_000), st.sampled_from([1.0, 1.15, 0.7]))
def test_gits_matches_brute_force(P, seed, gamma):
    rng = np.random.default_rng(seed)
    C = rng.exponential(size=(P, P))
    for n in range(1, P):
        path, value = gits_steps(C, n, gamma)
        truth, _ = _brute_gits(C, n, gamma)
        assert value == pytest.approx(truth, rel=1e-12)
        assert path[0] == 0 and path[-1] == P - 1 and len(path) == n + 1 and all(np.diff(path) > 0)
        total = 0.0
        for i, j in zip(path, path[1:]):
            total = gamma * total + C[i, j]
        assert total == pytest.approx(value, rel=1e-12)


def _brute_states(teacher, n, jump, error):
    P = len(teacher)
    best = (np.inf, None)
    for inner in itertools.combinations(range(1, P - 1), n - 1):
        path = (0, *inner, P - 1)
        state = teacher[0]
        for i, j in zip(path, path[1:]):
            state = jump(state, i, j)
        best = min(best, (error(state, P - 1), list(path)), key=lambda b: b[0])
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 8), st.integers(0, 10_000))
def test_optimal_steps_is_exact_when_a_jump_forgets_its_input(P, seed):
    """A jump that lands on the teacher's state plus a fixed error e[i, j]: the state carries no memory, so (2)
    must equal brute force."""
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=P)
    e = rng.normal(size=(P, P))
    jump = lambda s, i, j: teacher[j] + e[i, j]  # noqa: E731
    error = lambda s, j: abs(s - teacher[j])  # noqa: E731
    for n in range(1, P):
        path, value = optimal_steps(teacher, n, lambda s, i, js: [jump(s, i, j) for j in js], error)
        truth, _ = _brute_states(teacher, n, jump, error)
        assert value == pytest.approx(truth, rel=1e-12)
        state = teacher[0]
        for i, j in zip(path, path[1:]):
            state = jump(state, i, j)
        assert error(state, P - 1) == pytest.approx(value, rel=1e-12)


def test_optimal_steps_reports_the_error_of_the_path_it_returns():
    """With memory (a contracting jump), (2) is a heuristic, but its value is the traced path's real error
    and it is never below brute force."""
    rng = np.random.default_rng(3)
    P = 7
    teacher = np.cumsum(rng.normal(size=P))
    jump = lambda s, i, j: teacher[j] + 0.5 * (s - teacher[i]) + 0.1 * (j - i) ** 2  # noqa: E731
    error = lambda s, j: abs(s - teacher[j])  # noqa: E731
    for n in range(1, P):
        path, value = optimal_steps(teacher, n, lambda s, i, js: [jump(s, i, j) for j in js], error)
        state = teacher[0]
        for i, j in zip(path, path[1:]):
            state = jump(state, i, j)
        assert error(state, P - 1) == pytest.approx(value, rel=1e-12)
        assert value >= _brute_states(teacher, n, jump, error)[0] - 1e-12


@pytest.mark.parametrize("args, argument", [
    ((np.ones((3, 4)), 1), "cost"), ((np.ones((1, 1)), 1), "cost"), ((np.ones((4, 4)), 0), "n"),
    ((np.ones((4, 4)), 4), "n"), ((-np.ones((4, 4)), 2), "cost"), ((np.full((4, 4), np.nan), 2), "cost"),
])
def test_gits_bad_input(args, argument):
    with pytest.raises(DistillPlanError) as err:
        gits_steps(*args)
    assert err.value.argument == argument
