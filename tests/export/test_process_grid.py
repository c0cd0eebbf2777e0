"""Grids in a noise process's own time: VP signal levels, σ_min at t_min, diffusers timesteps."""

import numpy as np
import pytest

from distillplan import DistillPlanError
from distillplan.export import (diffusers_timesteps, export_document, flow_matching_times, from_ou_grid,
                                from_process_grid, kdiffusion_sigmas, training_alphas_bar)
from distillplan.models import EDM, OUVP, DiscreteVP, RectifiedFlow

from .grids import LABELS, ddpm, ddpm_fractional, ddpm_steps, ou_times, process_grid


@pytest.mark.parametrize("label", LABELS)
def test_vp_levels_and_sigma_min(label):
    process, grid = process_grid(label)
    path = from_process_grid(grid, process)
    np.testing.assert_allclose(path.alphas, process.vp_alpha(grid), rtol=1e-14, atol=0)
    np.testing.assert_allclose(path.alphas**2 + path.sigmas**2, 1.0, rtol=1e-14)
    inner = path.alphas[:-1] > 0
    np.testing.assert_allclose(path.sigmas[:-1][inner] / path.alphas[:-1][inner],
                               process.kdiffusion_sigma(grid[:-1][inner]), rtol=1e-12)
    assert path.sigma_min == pytest.approx(float(process.kdiffusion_sigma(process.t_min)), rel=1e-12)
    assert path.source == process.config() and path.source_times == tuple(grid.tolist())
    assert path.steps == grid.size - 1


def test_sigma_min_of_each_family():
    assert from_process_grid(ddpm_steps(), ddpm()).sigma_min == pytest.approx((1e-4 / (1 - 1e-4)) ** 0.5, rel=1e-12)
    assert from_process_grid([80.0, 1.0, 0.002], EDM()).sigma_min == pytest.approx(0.002, rel=1e-12)
    assert from_process_grid([1.0, 0.5, 0.0], OUVP(5.0, 1.0, 0.0)).sigma_min == 0.0
    assert from_process_grid([1.0, 0.5, 0.0], RectifiedFlow()).sigma_min == 0.0


def test_ou_process_matches_ou_grid():
    """The same OU grid through from_process_grid and from_ou_grid gives the same exports."""
    t = ou_times()
    a, b = from_process_grid(t, OUVP(5.0, 1.0, 0.0)), from_ou_grid(t, 5.0)
    np.testing.assert_allclose(a.alphas, b.alphas, rtol=1e-15)
    np.testing.assert_allclose(kdiffusion_sigmas(a), kdiffusion_sigmas(b), rtol=1e-12)
    np.testing.assert_allclose(flow_matching_times(a), flow_matching_times(b), rtol=1e-12)
    assert diffusers_timesteps(a) == diffusers_timesteps(b)


def test_discrete_vp_timesteps_are_the_rounded_grid():
    assert diffusers_timesteps(from_process_grid(ddpm_steps(), ddpm())) == [999, 208, 138, 98, 69, 47, 29, 13]
    frac = ddpm_fractional()
    path = from_process_grid(frac, ddpm())
    assert diffusers_timesteps(path) == [int(x) for x in np.round(frac[:-1])]
    # the model's own table, given as an array or as the process, changes nothing
    assert diffusers_timesteps(path, ddpm().alphas_bar) == diffusers_timesteps(path, ddpm()) == diffusers_timesteps(path)


def test_discrete_vp_through_another_table():
    """A DiscreteVP grid exported for a different table maps through log-SNR, like any other process."""
    sd = DiscreteVP.from_betas("scaled_linear", 0.00085, 0.012, 1000)
    path = from_process_grid(ddpm_steps(), ddpm())
    ts = diffusers_timesteps(path, sd)
    assert ts == diffusers_timesteps(path, sd.alphas_bar) and ts == sorted(ts, reverse=True)
    assert ts[0] == 999  # below the table's noisiest log-SNR: its last step
    np.testing.assert_allclose(sd.log_snr(np.array(ts[1:], float)), ddpm().log_snr(ddpm_steps()[1:-1]), atol=0.1)


def test_training_table_for_a_continuous_process():
    process, grid = process_grid("cosine-vp")
    ts = diffusers_timesteps(from_process_grid(grid, process), training_alphas_bar())
    assert len(ts) == grid.size - 1 and ts == sorted(ts, reverse=True) and len(set(ts)) == len(ts)


def test_duplicate_training_steps_name_the_grid():
    with pytest.raises(DistillPlanError) as err:
        diffusers_timesteps(from_process_grid([999.0, 10.4, 9.6, 0.0], ddpm()))
    assert err.value.argument == "grid" and "same training step 10" in err.value.message


@pytest.mark.parametrize("grid, process, fragment", [
    ([999.0, 500.0, 600.0, 0.0], "ddpm", "strictly decreasing"),
    ([999.0, 500.0, 1.0], "ddpm", "t_min"),
    ([1000.0, 500.0, 0.0], "ddpm", "horizon"),
    ([999.0], "ddpm", "at least 2"),
    ([999.0, float("nan"), 0.0], "ddpm", "NaN"),
    ([80.0, 1.0, 0.0], "edm", "t_min"),
    ([1.5, 0.5, 0.0], "rf", "horizon"),
])
def test_bad_grids_name_the_grid(grid, process, fragment):
    proc = {"ddpm": ddpm(), "edm": EDM(), "rf": RectifiedFlow()}[process]
    with pytest.raises(DistillPlanError, match=fragment) as err:
        from_process_grid(grid, proc)
    assert err.value.argument == "grid"


def test_not_a_process():
    with pytest.raises(DistillPlanError) as err:
        from_process_grid([1.0, 0.0], "ou")
    assert err.value.argument == "process"


def test_last_point_snaps_to_t_min():
    path = from_process_grid([999.0, 500.0, 1e-10], ddpm())
    assert path.source_times[-1] == 0.0


def test_terminal_errors():
    data_end = from_ou_grid(ou_times(), 5.0)
    for fn in (kdiffusion_sigmas, flow_matching_times):
        with pytest.raises(DistillPlanError, match="clean data") as err:
            fn(data_end, "sigma_min")
        assert err.value.argument == "terminal"
        with pytest.raises(DistillPlanError) as err:
            fn(data_end, "none")
        assert err.value.argument == "terminal"
    with pytest.raises(DistillPlanError) as err:
        diffusers_timesteps(data_end, terminal="last")
    assert err.value.argument == "terminal"
    with pytest.raises(DistillPlanError) as err:
        export_document(data_end, terminal="sigma_min")
    assert err.value.argument == "terminal"


def test_export_document_with_sigma_min():
    path = from_process_grid(ddpm_steps(), ddpm())
    doc = export_document(path, terminal="sigma_min")
    assert doc["terminal"] == {"kind": "sigma_min", "sigma_min": path.sigma_min}
    assert doc["k_diffusion_sigmas"][-1] == path.sigma_min and doc["diffusers_timesteps"][-1] == 13
    assert "sigma_min" in doc["conventions"]["k_diffusion_sigmas"] and doc["source"]["process"] == "discrete-vp"
