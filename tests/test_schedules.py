import numpy as np
import pytest

from distillplan import DistillPlanError, TimeGrid, VPSchedule, make_schedule


@pytest.mark.parametrize("T", [1, 2, 16, 32, 1000])
def test_cosine_endpoints_and_monotone(T):
    s = VPSchedule.cosine(T)
    assert s.steps == T
    assert s.alphas[0] == 1.0 and s.alphas[-1] == 0.0
    assert s.sigmas[0] == 0.0 and s.sigmas[-1] == 1.0
    assert np.all(np.diff(s.alphas) <= 0)
    np.testing.assert_allclose(s.alphas**2 + s.sigmas**2, 1.0, rtol=0, atol=1e-15)


def test_cosine_matches_formula():
    T, off = 10, 0.008
    u = np.arange(T + 1) / T
    ref = np.cos((u + off) / (1 + off) * np.pi / 2) / np.cos(off / (1 + off) * np.pi / 2)
    np.testing.assert_allclose(VPSchedule.cosine(T).alphas[:-1], ref[:-1], rtol=1e-15)


def test_linear_beta_subsamples_ddpm():
    s = VPSchedule.linear_beta(1000)
    alpha_bar = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    np.testing.assert_allclose(s.alphas[1:] ** 2, alpha_bar, rtol=1e-12)
    s10 = VPSchedule.linear_beta(10)
    np.testing.assert_allclose(s10.alphas, s.alphas[::100], rtol=1e-15)
    with pytest.raises(DistillPlanError, match="steps"):
        VPSchedule.linear_beta(2000)


@pytest.mark.parametrize("bad, match", [
    ([1.0, 0.5, 0.7, 0.0], "non-increasing"),
    ([0.9, 0.5, 0.0], "alpha_0 = 1"),
    ([1.0, np.nan, 0.0], "NaN"),
    ([1.0, 0.5, -0.1], r"\[0, 1\]"),
    ([1.0], "at least 2"),
])
def test_from_alphas_rejects(bad, match):
    with pytest.raises(DistillPlanError, match=match) as err:
        VPSchedule.from_alphas(bad)
    assert err.value.argument == "alphas"


def test_make_schedule_unknown():
    with pytest.raises(DistillPlanError, match="schedule"):
        make_schedule("sigmoid", 8)


@pytest.mark.parametrize("bad", [[1.0, 0.5, 0.6, 0.0], [1.0, 0.5, 0.1], [0.0, 0.0], [1.0, 1.0, 0.0], [np.nan, 0.0]])
def test_time_grid_rejects(bad):
    with pytest.raises(DistillPlanError) as err:
        TimeGrid(np.array(bad))
    assert err.value.argument == "grid"


def test_time_grid_pairs():
    g = TimeGrid(np.array([1.0, 0.5, 0.0]))
    assert g.segments == 2 and g.horizon == 1.0 and g.pairs() == [(1.0, 0.5), (0.5, 0.0)]


def test_errors_pickle_round_trip():
    import pickle

    err = pickle.loads(pickle.dumps(DistillPlanError("dataset", "no such folder")))
    assert isinstance(err, DistillPlanError) and err.argument == "dataset" and str(err) == "dataset: no such folder"
