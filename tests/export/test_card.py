"""The schedule card: building, writing atomically, reading back, every bad card, re-exporting."""

import copy
import hashlib
import json

import numpy as np
import pytest

from distillplan import DistillPlanError
from distillplan.export import (CARD_KEYS, CARD_VERSION, card_export, content_hash, make_card, read_card,
                                training_alphas_bar, write_card)
from distillplan.models import OUVP

from .grids import ddpm, ddpm_steps, process_grid

PROFILE = {"kind": "jacobian", "N": 64, "M": 256, "k": 8, "quantile": 0.9, "A_total": 12.5}


def card_for(label="discrete-vp", **kw):
    process, grid = process_grid(label)
    args = dict(what_for="8-step Euler sampling of the DDPM teacher", evidence="W2 to the 1000-step teacher: 0.031",
                model="google/ddpm-cifar10-32", parameterisation="epsilon", profile=PROFILE)
    args.update(kw)
    return make_card(grid, process, **args)


def test_card_contents():
    card = card_for(segments=[{"A": 1.5}] * 8)
    assert list(card) == list(CARD_KEYS) and card["card_version"] == CARD_VERSION == 1
    assert card["model"] == {"name": "google/ddpm-cifar10-32", "content_hash": None}
    assert card["process"] == ddpm().config() and card["grid"] == ddpm_steps().tolist()
    assert card["time_convention"].startswith("process time t") and "t_min = 0.0" in card["time_convention"]
    term = card["terminal"]
    assert term["kind"] == "zero" and term["t_min"] == 0.0 and term["sigmas_end_in_zero"] is True
    assert term["sigma_min"] == pytest.approx((1e-4 / (1 - 1e-4)) ** 0.5, rel=1e-12)
    assert card["segments"][0] == {"index": 0, "t_from": 999.0, "t_to": 208.0, "A": 1.5}
    assert card["profile"] == PROFILE
    ex = card["exports"]
    assert ex["diffusers_timesteps"]["values"] == [999, 208, 138, 98, 69, 47, 29, 13]
    assert all(ex[k]["values"][-1] == 0.0 for k in ("diffusers_sigmas", "k_diffusion_sigmas", "flow_matching_times"))
    assert all(isinstance(e["convention"], str) and e["convention"] for e in ex.values())
    json.dumps(card, allow_nan=False)


def test_not_representable_reasons():
    card = card_for("rectified-flow-full", parameterisation="velocity")
    ex = card["exports"]
    assert ex["k_diffusion_sigmas"]["values"] is None and "infinite" in ex["k_diffusion_sigmas"]["not_representable"]
    assert ex["diffusers_timesteps"]["values"] is None and "training table" in ex["diffusers_timesteps"]["not_representable"]
    assert ex["flow_matching_times"]["values"][0] == 1.0
    with pytest.raises(DistillPlanError, match="infinite") as err:
        card_export(card, "k-diffusion")
    assert err.value.argument == "target"


def test_timesteps_from_a_training_table():
    card = card_for("ou", alphas_bar=training_alphas_bar())
    assert len(card["exports"]["diffusers_timesteps"]["values"]) == 8
    assert card["terminal"]["sigma_min"] == 0.0


def test_round_trip(tmp_path):
    card = card_for(terminal="sigma_min")
    out = write_card(card, tmp_path / "cards" / "ddpm.json")
    assert out.read_text().endswith("}\n") and [p.name for p in (tmp_path / "cards").iterdir()] == ["ddpm.json"]
    back = read_card(out)
    assert back == card
    assert card_export(back, "k-diffusion")[-1] == card["terminal"]["sigma_min"]
    write_card(back, out)  # overwrite in place
    assert read_card(out) == card


def test_model_content_hash(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x00weights" * 1000)
    card = card_for(model=weights)
    assert card["model"] == {"name": str(weights), "content_hash": "sha256:" + hashlib.sha256(weights.read_bytes()).hexdigest()}
    folder = tmp_path / "pipe"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "w.bin").write_bytes(b"abc")
    (folder / "config.json").write_text("{}")
    first = content_hash(folder)
    assert first == content_hash(folder) and first.startswith("sha256:")
    (folder / "unet" / "w.bin").write_bytes(b"abd")
    assert content_hash(folder) != first
    assert card_for(model=weights, model_hash="sha256:given")["model"]["content_hash"] == "sha256:given"


@pytest.mark.parametrize("missing", ["what_for", "evidence"])
def test_refuses_without_use_and_evidence(missing):
    for bad in ("", "   ", None, 3):
        with pytest.raises(DistillPlanError) as err:
            card_for(**{missing: bad})
        assert err.value.argument == missing
    process, grid = process_grid("discrete-vp")
    kw = dict(what_for="x", evidence="y", model="m", parameterisation="epsilon")
    del kw[missing]
    with pytest.raises(TypeError):
        make_card(grid, process, **kw)


@pytest.mark.parametrize("kw, argument", [
    ({"parameterisation": ""}, "parameterisation"),
    ({"model": ""}, "model"),
    ({"model": 3}, "model"),
    ({"terminal": "none"}, "terminal"),
    ({"profile": {"kind": "jacobian"}}, "profile"),
    ({"profile": [1, 2]}, "profile"),
    ({"profile": {**PROFILE, "A_total": float("nan")}}, "profile"),
    ({"segments": [{}] * 3}, "segments"),
    ({"segments": [{"index": 5}] * 8}, "segments"),
    ({"segments": [{"x": object()}] * 8}, "segments"),
])
def test_bad_arguments(kw, argument):
    with pytest.raises(DistillPlanError) as err:
        card_for(**kw)
    assert err.value.argument == argument


def test_numpy_values_become_json():
    card = card_for(profile={**PROFILE, "N": np.int64(64), "A_total": np.float64(1.25)},
                    segments=[{"share": np.float32(0.125)}] * 8)
    assert type(card["profile"]["N"]) is int and card["segments"][3]["share"] == 0.125
    json.dumps(card, allow_nan=False)


def test_sigma_min_terminal_needs_sigma_min():
    with pytest.raises(DistillPlanError) as err:
        make_card([1.0, 0.5, 0.0], OUVP(5.0, 1.0, 0.0), what_for="x", evidence="y", model="m", parameterisation="epsilon",
                  terminal="sigma_min")
    assert err.value.argument == "terminal"
    card = card_for("ou")
    with pytest.raises(DistillPlanError) as err:
        card_export(card, "k-diffusion", "sigma_min")
    assert err.value.argument == "terminal"


def test_card_export_terminals():
    card = card_for()
    sm = card["terminal"]["sigma_min"]
    zero = card_export(card, "k-diffusion")
    kept = card_export(card, "k-diffusion", "sigma_min")
    assert zero[:-1] == kept[:-1] and zero[-1] == 0.0 and kept[-1] == sm
    assert card_export(card, "flow-matching", "sigma_min")[-1] == sm / (1 + sm)
    assert card_export(card, "diffusers-timesteps", "sigma_min") == card_export(card, "diffusers-timesteps")
    doc = card_export(card, "json", "sigma_min")
    assert doc["terminal"]["kind"] == "sigma_min" and doc["terminal"]["sigmas_end_in_zero"] is False
    assert doc["exports"]["diffusers_sigmas"]["values"][-1] == sm and "sigma_min" in doc["exports"]["diffusers_sigmas"]["convention"]
    assert card["terminal"]["kind"] == "zero" and card_export(card, "json") == card  # the card is not changed
    back = card_export(doc, "json", "zero")
    assert back["exports"] == card["exports"] and back["terminal"] == card["terminal"]
    with pytest.raises(DistillPlanError) as err:
        card_export(card, "comfy")
    assert err.value.argument == "target"


# ---- bad cards -------------------------------------------------------------------------------------------

def _mutations():
    def drop(key):
        return lambda c: c.pop(key)

    def setter(fn):
        return fn

    cases = {f"missing {k}": drop(k) for k in CARD_KEYS}
    cases.update({
        "version 2": setter(lambda c: c.update(card_version=2)),
        "version '1'": setter(lambda c: c.update(card_version="1")),
        "version true": setter(lambda c: c.update(card_version=True)),
        "blank what_for": setter(lambda c: c.update(what_for=" ")),
        "evidence not text": setter(lambda c: c.update(evidence=["x"])),
        "model without name": setter(lambda c: c.update(model={"content_hash": None})),
        "process not a config": setter(lambda c: c.update(process="ddpm")),
        "terminal kind": setter(lambda c: c["terminal"].update(kind="last")),
        "terminal sigma_min": setter(lambda c: c["terminal"].update(sigma_min=-1.0)),
        "terminal not an object": setter(lambda c: c.update(terminal="zero")),
        "grid increasing": setter(lambda c: c.update(grid=c["grid"][::-1])),
        "grid one point": setter(lambda c: c.update(grid=[999.0])),
        "grid text": setter(lambda c: c.update(grid="999,0")),
        "segments count": setter(lambda c: c.update(segments=c["segments"][:-1])),
        "profile keys": setter(lambda c: c.update(profile={"kind": "jacobian"})),
        "exports missing target": setter(lambda c: c["exports"].pop("flow_matching_times")),
        "exports short": setter(lambda c: c["exports"]["k_diffusion_sigmas"]["values"].pop()),
        "exports not decreasing": setter(lambda c: c["exports"]["diffusers_sigmas"]["values"].reverse()),
        "exports no reason": setter(lambda c: c["exports"]["k_diffusion_sigmas"].update(values=None)),
        "exports no convention": setter(lambda c: c["exports"]["k_diffusion_sigmas"].pop("convention")),
        "timesteps fractional": setter(lambda c: c["exports"]["diffusers_timesteps"].update(
            values=[999.5, 208, 138, 98, 69, 47, 29, 13])),
    })
    return cases


MUTATIONS = _mutations()


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_bad_card_structure(case, tmp_path):
    card = copy.deepcopy(card_for())
    MUTATIONS[case](card)
    with pytest.raises(DistillPlanError) as err:
        card_export(card, "k-diffusion")
    assert err.value.argument == "card"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(card))
    with pytest.raises(DistillPlanError) as err:
        read_card(path)
    assert err.value.argument == "card" and str(path) in err.value.message
    with pytest.raises(DistillPlanError) as err:
        write_card(card, tmp_path / "out.json")
    assert err.value.argument == "card" and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("content, fragment", [
    (None, "no such file"),
    ("dir", "folder"),
    (b"{not json", "not JSON"),
    (b"", "not JSON"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b'{"card_version": NaN}', "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"what_for": "x"}', "card_version"),
])
def test_bad_card_files(tmp_path, content, fragment):
    path = tmp_path / "card.json"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DistillPlanError, match=fragment) as err:
        read_card(path)
    assert err.value.argument == "card"


def test_write_refuses_what_json_cannot_hold(tmp_path):
    card = card_for()
    card["segments"][0]["extra"] = float("inf")
    with pytest.raises(DistillPlanError) as err:
        write_card(card, tmp_path / "c.json")
    assert err.value.argument == "card" and list(tmp_path.iterdir()) == []
