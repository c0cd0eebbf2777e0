"""``distillplan export --card``: re-emitting a card's exports through the real entry point, in-process."""

import json

import pytest

from distillplan.cli import main
from distillplan.export import card_export, make_card, write_card

from .grids import process_grid


def run(args, capsys):
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cards")
    out = {}
    for label in ("discrete-vp", "ou", "rectified-flow-full"):
        process, grid = process_grid(label)
        card = make_card(grid, process, what_for="CLI test", evidence="none", model="m", parameterisation="epsilon")
        out[label] = (str(write_card(card, folder / f"{label}.json")), card)
    return out


@pytest.mark.parametrize("terminal", [None, "zero", "sigma_min"])
@pytest.mark.parametrize("target", ["diffusers-timesteps", "diffusers-sigmas", "k-diffusion", "flow-matching", "json"])
def test_card_targets(cards, capsys, target, terminal):
    path, card = cards["discrete-vp"]
    args = ["export", "--card", path, "--target", target] + ([] if terminal is None else ["--terminal", terminal])
    code, out, err = run(args, capsys)
    assert code == 0 and err == ""
    assert json.loads(out) == card_export(card, target, terminal)


def test_default_target_prints_the_card(cards, capsys):
    path, card = cards["ou"]
    code, out, _ = run(["export", "--card", path], capsys)
    assert code == 0 and json.loads(out) == card


@pytest.mark.parametrize("args, argument", [
    (["--card", "{card}", "--grid", "1,0.5,0"], "card"),
    ([], "grid"),
    (["--card", "{missing}"], "card"),
    (["--card", "{notjson}"], "card"),
    (["--card", "{card}", "--beta", "3"], "beta"),
    (["--card", "{card}", "--train-steps", "500"], "train-steps"),
    (["--card", "{card}", "--convention", "alpha"], "convention"),
    (["--card", "{ou}", "--target", "k-diffusion", "--terminal", "sigma_min"], "terminal"),
    (["--card", "{rf}", "--target", "k-diffusion"], "target"),
    (["--card", "{rf}", "--target", "diffusers-timesteps"], "target"),
    (["--card", "{card}", "--terminal", "last"], "terminal"),
    (["--grid", "1,0.2079,0.0693,0", "--terminal", "sigma_min", "--target", "k-diffusion"], "terminal"),
])
def test_one_error_line(cards, capsys, tmp_path, args, argument):
    notjson = tmp_path / "notjson.json"
    notjson.write_text("{")
    names = {"card": cards["discrete-vp"][0], "ou": cards["ou"][0], "rf": cards["rectified-flow-full"][0],
             "missing": str(tmp_path / "none.json"), "notjson": str(notjson)}
    code, out, err = run(["export"] + [a.format(**names) for a in args], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {argument}:") and err.count("\n") == 1


def test_grid_terminal_zero_is_the_old_output(capsys):
    _, plain, _ = run(["export", "--grid", "1,0.2079,0.0693,0", "--target", "k-diffusion"], capsys)
    _, zero, _ = run(["export", "--grid", "1,0.2079,0.0693,0", "--target", "k-diffusion", "--terminal", "zero"], capsys)
    assert plain == zero and json.loads(plain)[-1] == 0.0
