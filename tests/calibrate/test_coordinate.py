"""The profile coordinate: uniform in log-SNR inside EDM's range, finite and exact at the ends."""

import numpy as np
import pytest

from distillplan import DistillPlanError
from distillplan.calibrate import DATA_SIDE_SIGMA, NOISE_SIDE_SIGMA, ProfileCoordinate, profile_times
from distillplan.models import EDM, OUVP, CosineVP, DiscreteVP, RectifiedFlow

PROCESSES = [OUVP(5.0, 1.0, 0.0), OUVP(5.0, 1.0, 1e-4), RectifiedFlow(0.0, 1.0), EDM(), CosineVP(),
             DiscreteVP.from_betas("linear")]


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: f"{p.name}-{p.t_min:g}")
def test_profile_times_run_exactly_from_horizon_to_t_min(process):
    times = profile_times(process, 33)
    assert times.shape == (33,)
    assert times[0] == process.horizon and times[-1] == process.t_min
    assert np.all(np.diff(times) < 0)


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: f"{p.name}-{p.t_min:g}")
def test_nodes_are_uniform_in_w_and_w_is_half_the_log_snr_inside_the_edm_range(process):
    coordinate = ProfileCoordinate.of(process)
    times, w = coordinate.nodes(41)
    np.testing.assert_allclose(np.diff(coordinate.of_time(times)), np.diff(w)[0], rtol=1e-9, atol=1e-12)
    inner = times[1:-1]
    kappa = process.kdiffusion_sigma(inner)
    # |w − λ/2| = |ln(1 + κ/κ_max) − ln(1 + κ_min/κ)| <= κ/κ_max + κ_min/κ
    gap = np.abs(coordinate.of_time(inner) - 0.5 * process.log_snr(inner))
    assert np.all(gap <= kappa / coordinate.kappa_max + coordinate.kappa_min / kappa + 1e-12)


def test_only_infinite_ends_are_saturated():
    ou = ProfileCoordinate.of(OUVP(5.0, 1.0, 0.0))
    assert ou.kappa_min == DATA_SIDE_SIGMA  # σ(0) = 0: λ = +∞
    rf = ProfileCoordinate.of(RectifiedFlow(0.0, 1.0))
    assert rf.kappa_min == DATA_SIDE_SIGMA and rf.kappa_max == NOISE_SIDE_SIGMA  # λ = ±∞ at both ends
    edm = ProfileCoordinate.of(EDM())
    assert edm.kappa_min == 0.0 and edm.kappa_max == np.inf  # σ/α = t in [0.002, 80]: exactly log-SNR
    np.testing.assert_allclose(edm.of_time([0.01, 1.0, 50.0]), -np.log([0.01, 1.0, 50.0]), rtol=1e-13)


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: f"{p.name}-{p.t_min:g}")
def test_time_of_inverts_of_time_and_the_derivative_matches_differences(process):
    coordinate = ProfileCoordinate.of(process)
    times, w = coordinate.nodes(25)
    np.testing.assert_allclose(coordinate.time_of(w), times, rtol=1e-10, atol=1e-14)
    h = 1e-5 * (w[1] - w[0])
    fd = (coordinate.time_of(w[1:-1] + h) - coordinate.time_of(w[1:-1] - h)) / (2 * h)
    np.testing.assert_allclose(coordinate.time_derivative(times[1:-1]), fd, rtol=1e-5)
    assert np.all(coordinate.time_derivative(times) <= 0)


def test_bad_input_names_the_argument():
    with pytest.raises(DistillPlanError) as err:
        ProfileCoordinate.of("ou")
    assert err.value.argument == "process"
    with pytest.raises(DistillPlanError) as err:
        profile_times(OUVP(5.0, 1.0, 0.0), 1)
    assert err.value.argument == "points"
    with pytest.raises(DistillPlanError) as err:
        ProfileCoordinate.of(OUVP(5.0, 1.0, 0.0)).of_time([2.0])
    assert err.value.argument == "t"
