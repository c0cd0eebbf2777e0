import json

import numpy as np
import pytest

from distillplan.linear import Plan

from distillplan.cli import main


def _latents(path, n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 1.5, (3, d))
    z = means[rng.integers(0, 3, n)] + rng.normal(0, 0.4, (n, d))
    np.save(path, z * np.linspace(0.3, 1.4, d))
    return path


def test_recommend_writes_everything(tmp_path, capsys):
    data = _latents(tmp_path / "z.npy")
    out = tmp_path / "rec"
    main(["recommend", "--data", str(data), "--steps", "8", "--segments", "4", "--out", str(out)])
    text = capsys.readouterr().out
    assert "plan (T = 8" in text and "stability grid" in text
    doc = json.loads((out / "recommendation.json").read_text())
    assert doc["data"]["dim"] == 6
    recommended = Plan.from_merges(doc["plan"]["recommended"]["merges"], 8)
    assert recommended == Plan.parse(doc["plan"]["recommended"]["plan"], 8)
    assert recommended == Plan.from_merges(doc["plan"]["strategies"]["optimal"]["merges"], 8)
    grid = doc["grid"]["stability"]
    assert grid[0] == 1.0 and grid[-1] == 0.0 and len(grid) == 5
    np.testing.assert_allclose(doc["grid"]["segment_A"]["stability"], doc["grid"]["A_total"] / 4, rtol=1e-8)
    for name in ("strategies.csv", "grid.csv", "spectrum.png", "plan.png", "grid.png", "report.html",
                 "exports/grid.json", "exports/plan.json"):
        assert (out / name).stat().st_size > 0, name
    exp = json.loads((out / "exports" / "grid.json").read_text())
    assert len(exp["diffusers_timesteps"]) == 4 and exp["k_diffusion_sigmas"][-1] == 0
    from distillplan.evidence import describe_uses

    uses = doc["grid"]["uses"]["stability"]
    assert uses == describe_uses("mixture-stability") == exp["uses"]  # the packaged measurements, labelled
    assert exp["what_for"].startswith("segment boundaries of distilled flow-map students")
    assert ("NOT supported for few-step samplers" in exp["what_for"]) is (
        not any(u.startswith("sampler:") for u in uses["supported"]))
    assert "for: segment boundaries" in text and all(line in text for line in uses["evidence"].values())
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3


@pytest.mark.parametrize("content, message", [
    (np.array([[0.5, np.nan]] * 20), "NaN"),
    (np.zeros(30), "shape"),
    (np.ones((5, 3)), "at least 10"),
])
def test_recommend_bad_data(tmp_path, capsys, content, message):
    path = tmp_path / "bad.npy"
    np.save(path, content)
    with pytest.raises(SystemExit) as exc:
        main(["recommend", "--data", str(path), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: data:") and message in err and len(err.strip().splitlines()) == 1


def test_recommend_unreadable(tmp_path, capsys):
    path = tmp_path / "z.csv"
    path.write_text("1,2,x\n")
    with pytest.raises(SystemExit) as exc:
        main(["recommend", "--data", str(path), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and capsys.readouterr().err.startswith("error: data:")
