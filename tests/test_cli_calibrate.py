"""``distillplan calibrate`` end to end on small problems: the exact mixture, a callable and a diffusers folder."""

import json
import math

import numpy as np
import pytest
import torch

from distillplan.cli import main
from distillplan.export.card import read_card
from distillplan.mixture import IsotropicMixture, OUProcess, stability_grid

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def _one_thread_in_commands(monkeypatch):
    monkeypatch.setenv("DISTILLPLAN_THREADS", "1")  # the command sets its own thread count: keep it at one
SMALL = ["--samples", "8", "--points", "24", "--iters", "6", "--bootstrap", "20"]


def run(args, capsys):
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_mixture_writes_everything_and_stays_under_the_bound(tmp_path, capsys):
    out = tmp_path / "cal"
    code, text, err = run(["calibrate", "--model", "mixture", "--dim", "4", "--components", "3", "--sigma0", "0.3",
                           "--segments", "4", *SMALL, "--json", "--out", str(out)], capsys)
    assert code == 0, err
    doc = json.loads(text)
    assert {"grid", "t", "L", "A_total", "L_bound", "what_for", "evidence"} <= set(doc)
    grid = np.asarray(doc["grid"])
    assert grid.size == 5 and grid[0] == 1.0 and grid[-1] == 0.0 and np.all(np.diff(grid) < 0)
    assert np.all(np.asarray(doc["L"]) <= np.asarray(doc["L_bound"]) * (1 + 1e-9))
    for name in ("profile.csv", "grid.csv", "profile.png", "card.json", "calibration.json", "report.html"):
        assert (out / name).stat().st_size > 0, name
    card = read_card(out / "card.json")
    assert card["grid"] == pytest.approx(doc["grid"]) and card["what_for"] == doc["what_for"]
    assert card["profile"]["kind"] == "jacobian" and card["profile"]["A_total"] == pytest.approx(doc["A_total"])
    assert card["uses"] == doc["uses"] and "students" in doc["uses"]["supported"]
    assert not any(use.startswith("sampler:") for use in doc["uses"]["supported"])  # the packaged measurements
    assert doc["segment_advice"]["suggested"] == max(1, math.ceil(doc["A_total"]))
    code, text, err = run(["export", "--card", str(out / "card.json"), "--target", "flow-matching"], capsys)
    assert code == 2 and text == "" and err.startswith("error: card: the measurements do not support this grid")
    code, text, _ = run(["export", "--card", str(out / "card.json"), "--target", "flow-matching", "--unsupported"],
                        capsys)
    assert code == 0 and json.loads(text)[-1] == 0.0


def test_single_component_matches_the_closed_form_grid(tmp_path, capsys):
    """One component: J = −β(1 − 1/s_t²) I exactly, so the calibrated grid is paper 2's stability grid."""
    code, text, err = run(["calibrate", "--model", "mixture", "--dim", "3", "--components", "1", "--sigma0", "0.1",
                           "--segments", "6", "--samples", "4", "--points", "64", "--iters", "2", "--bootstrap", "0",
                           "--json", "--out", str(tmp_path / "one")], capsys)
    assert code == 0, err
    doc = json.loads(text)
    mixture = IsotropicMixture.equal_weights(np.zeros((1, 3)), 0.1)
    exact = stability_grid(mixture, OUProcess(5.0, 1.0), 6).times
    np.testing.assert_allclose(doc["grid"], exact, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(doc["L"], doc["L_bound"], rtol=1e-9)


def test_acceleration_profile_runs(tmp_path, capsys):
    code, text, err = run(["calibrate", "--model", "mixture", "--dim", "2", "--components", "2", "--profile",
                           "acceleration", "--segments", "3", *SMALL, "--json", "--out", str(tmp_path / "acc")], capsys)
    assert code == 0, err
    doc = json.loads(text)
    assert doc["profile"] == "acceleration" and "Euler" in doc["what_for"]
    assert "sampler:euler" in doc["uses"]["supported"]  # the packaged measurements support it for Euler
    code, text, _ = run(["export", "--card", str(tmp_path / "acc" / "card.json"), "--target", "k-diffusion"], capsys)
    assert code == 0 and len(json.loads(text)) == 4


def test_callable_model(tmp_path, capsys):
    """A Gaussian ε-model N(0, c²) under OU: its exact ε̂ = σ x/(α²c² + σ²)."""
    module = tmp_path / "gauss.py"
    module.write_text(
        "import math\n"
        "def eps(x, t):\n"
        "    beta, c2 = 5.0, 0.09\n"
        "    a2 = (-(2 * beta * t)).exp()\n"
        "    s = (1 - a2).clamp_min(1e-300).sqrt()\n"
        "    return (s / (a2 * c2 + 1 - a2))[:, None] * x\n")
    code, text, err = run(["calibrate", "--model", f"{module}:eps", "--process", "ou", "--parameterisation", "epsilon",
                           "--shape", "3", "--segments", "4", *SMALL, "--json", "--out", str(tmp_path / "c")], capsys)
    assert code == 0, err
    doc = json.loads(text)
    assert doc["model"]["kind"] == "callable" and len(doc["grid"]) == 5


def test_diffusers_folder(tmp_path, capsys):
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                                 layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4).eval()
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    diffusers.DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(tmp_path / "pipe")
    out = tmp_path / "cal"
    code, text, err = run(["calibrate", "--model", str(tmp_path / "pipe"), "--segments", "4", "--samples", "4",
                           "--points", "12", "--iters", "2", "--bootstrap", "10", "--out", str(out)], capsys)
    assert code == 0, err
    assert "calibrate:" in err and "forward-pass equivalents" in err
    card = read_card(out / "card.json")
    assert card["process"]["process"] == "discrete-vp" and card["parameterisation"] == "epsilon"
    assert card["model"]["content_hash"] not in (None, "none")
    steps = card["exports"]["diffusers_timesteps"]["values"]
    assert steps[0] == 999 and all(a > b for a, b in zip(steps, steps[1:]))


def test_summary_states_uses_measured_evidence_and_segment_advice(tmp_path, capsys):
    from distillplan.evidence import describe_uses, segment_advice, supported_schedules

    code, text, err = run(["calibrate", "--model", "mixture", "--dim", "3", "--components", "2", "--segments", "3",
                           *SMALL, "--out", str(tmp_path / "c")], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "c" / "calibration.json").read_text())
    for line in describe_uses("calibrated")["evidence"].values():
        assert line in text
    assert f"segments: the profile suggests n = {max(1, math.ceil(doc['A_total']))}" in text
    assert all(line in text for line in segment_advice("calibrated", "students"))
    offered = any(u.startswith("sampler:") for u in describe_uses("calibrated")["supported"])
    assert ("not offered for sampling" in text) is (not offered)
    assert offered or f"euler: {', '.join(supported_schedules('sampler:euler'))}" in text
