"""``distillplan grid``: the command object directly, and through the CLI's error wrapper."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from distillplan import cli as cli_module
from distillplan.commands.grid import grid

STABILITY_N8 = [1, 0.207912, 0.138616, 0.098075, 0.069310, 0.046998, 0.028767, 0.013352, 0]


def _invoke(*args: str):
    result = CliRunner().invoke(grid, list(args))
    assert result.exception is None, result.output
    assert result.exit_code == 0
    return result.output


def test_human_table():
    out = _invoke("--segments", "8")
    assert "stability grid: 8 segments" in out
    assert "D0 = 40.9973" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(1, 9))
    assert all(r[-1] == "12.50%" for r in rows)
    assert out.rstrip().endswith("A(T) = 210.088")


def test_json_paper_numbers():
    payload = json.loads(_invoke("--json"))
    np.testing.assert_allclose(payload["grid"], STABILITY_N8, atol=5e-7)
    np.testing.assert_allclose(payload["segment_A"], np.full(8, 26.261), rtol=1e-4)
    assert payload["A_total"] == pytest.approx(210.088, rel=1e-6)
    assert payload["kind"] == "stability" and payload["params"]["segments"] == 8


@pytest.mark.parametrize("kind", ["uniform", "karras", "logsnr"])
def test_json_other_kinds(kind):
    payload = json.loads(_invoke("--json", "--kind", kind, "--segments", "5"))
    times = np.array(payload["grid"])
    assert times[0] == 1.0 and times[-1] == 0.0 and np.all(np.diff(times) < 0) and times.size == 6
    assert sum(payload["segment_A"]) == pytest.approx(payload["A_total"], rel=1e-12)


def test_data_file(tmp_path):
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    x = np.repeat(centres, 100, axis=0) + 0.5 * rng.standard_normal((300, 3))
    path = tmp_path / "samples.npy"
    np.save(path, x)
    out = _invoke("--data", str(path), "--segments", "4")
    assert "fitted mixture" in out and "K = 3" in out and "sigma0 = " in out and "D0 = " in out
    payload = json.loads(_invoke("--data", str(path), "--components", "3", "--json"))
    assert payload["mixture"]["components"] == 3
    assert payload["mixture"]["sigma0"] == pytest.approx(0.5, rel=0.1)
    assert payload["mixture"]["diameter"] == pytest.approx(np.sqrt(200), rel=0.02)
    assert len(payload["segment_A"]) == 8


# ---------------------------------------------------------------------- errors via the CLI wrapper
@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run ``distillplan grid ...`` through :func:`distillplan.cli.main`; returns (exit code, stderr)."""
    monkeypatch.setitem(cli_module.COMMANDS, "grid", "distillplan.commands.grid:grid")

    def run(*args: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as info:
            cli_module.main(["grid", *args])
        return info.value.code, capsys.readouterr().err

    return run


def _bad_files(tmp_path):
    np.save(tmp_path / "nan.npy", np.full((10, 2), np.nan))
    np.save(tmp_path / "flat.npy", np.arange(10.0))
    (tmp_path / "garbage.npy").write_bytes(b"not a numpy file")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        (["--sigma0", "0"], "sigma0"),
        (["--sigma0", "-1"], "sigma0"),
        (["--beta", "0"], "beta"),
        (["--beta", "-2"], "beta"),
        (["--horizon", "0"], "horizon"),
        (["--segments", "0"], "segments"),
        (["--data", "{tmp}/missing.npy"], "data"),
        (["--data", "{tmp}/garbage.npy"], "data"),
        (["--data", "{tmp}/nan.npy"], "data"),
        (["--data", "{tmp}/flat.npy"], "data"),
        (["--data", "{tmp}/nan.npy", "--sigma0", "0.5"], "sigma0"),
    ],
)
def test_bad_input_is_one_line_naming_the_argument(run_cli, tmp_path, args, argument):
    folder = _bad_files(tmp_path)
    code, err = run_cli(*[a.format(tmp=folder) for a in args])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {argument}:"), err
