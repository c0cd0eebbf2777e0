"""Every exporter, every kind of path, both terminals: strictly decreasing finite lists of the documented length."""

import math

import numpy as np
import pytest

from distillplan import DistillPlanError, VPSchedule
from distillplan.export import (TERMINALS, diffusers_sigmas, diffusers_timesteps, export_document,
                                flow_matching_times, from_alphas, from_ou_grid, from_process_grid, from_vp_indices,
                                kdiffusion_sigmas, make_card, card_export)

from .grids import LABELS, ou_times, process_grid

LISTS = {"diffusers-sigmas": diffusers_sigmas, "k-diffusion": kdiffusion_sigmas, "flow-matching": flow_matching_times}


def paths():
    out = {f"process:{label}": from_process_grid(*reversed(process_grid(label))) for label in LABELS}
    out["ou"] = from_ou_grid(ou_times(), 5.0)
    out["vp-index"] = from_vp_indices([16, 11, 7, 4, 2, 1, 0], VPSchedule.cosine(16))
    out["alphas"] = from_alphas([0.0, 0.5, 0.9, 1.0])
    return out


PATHS = paths()


def _representable(fn, path, terminal):
    try:
        return fn(path, terminal)
    except DistillPlanError as exc:
        if exc.argument == "terminal":
            assert terminal == "sigma_min" and path.sigma_min == 0  # the only case 'sigma_min' is refused
        else:
            assert exc.argument == "target" and path.alphas[0] == 0  # σ/α infinite at pure noise
        return None


def _check_list(values, length):
    assert isinstance(values, list) and len(values) == length
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)
    assert all(a > b for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("terminal", TERMINALS)
@pytest.mark.parametrize("name", sorted(PATHS))
def test_list_exports(name, terminal):
    path = PATHS[name]
    n = path.steps
    for target, fn in LISTS.items():
        values = _representable(fn, path, terminal)
        if values is None:
            continue
        _check_list(values, n + 1)
        sm = path.sigma_min
        if terminal == "zero":
            assert values[-1] == 0.0
        elif target == "flow-matching":
            assert values[-1] == sm / (1 + sm) > 0
        else:
            assert values[-1] == sm > 0
        assert 0 <= values[-1] and (target != "flow-matching" or values[0] <= 1)
        # every value but the terminal one is the grid's own σ/α (or flow time), whatever the terminal
        ref = path.sigmas / path.alphas if target != "flow-matching" else path.sigmas / (path.alphas + path.sigmas)
        np.testing.assert_allclose(values[:-1], ref[:-1], rtol=1e-14)


@pytest.mark.parametrize("name", sorted(PATHS))
def test_timesteps_export(name):
    path = PATHS[name]
    try:
        ts = diffusers_timesteps(path)
    except DistillPlanError as exc:
        assert exc.argument in ("target", "grid")
        return
    _check_list(ts, path.steps)
    assert all(isinstance(t, int) and 0 <= t <= 999 for t in ts)
    assert all(diffusers_timesteps(path, terminal=t) == ts for t in TERMINALS if path.sigma_min > 0 or t == "zero")


@pytest.mark.parametrize("label", LABELS)
def test_card_exports_equal_the_exporters(label):
    process, grid = process_grid(label)
    path = from_process_grid(grid, process)
    for terminal in TERMINALS:
        if terminal == "sigma_min" and path.sigma_min == 0:
            continue
        card = make_card(grid, process, what_for="contract", evidence="none", model="m", parameterisation="epsilon",
                         terminal=terminal)
        doc = export_document(path, terminal=terminal)
        for target, fn in LISTS.items():
            key = {"diffusers-sigmas": "diffusers_sigmas", "k-diffusion": "k_diffusion_sigmas",
                   "flow-matching": "flow_matching_times"}[target]
            assert card["exports"][key]["values"] == doc[key]
            if doc[key] is not None:
                assert card_export(card, target) == fn(path, terminal)
                # switching the terminal on the card gives what the exporter gives for that terminal
                for other in TERMINALS:
                    if other != "sigma_min" or path.sigma_min > 0:
                        assert card_export(card, target, other) == fn(path, other)
