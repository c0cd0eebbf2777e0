import base64

import pytest

from distillplan.cli import main
from distillplan.report import build_report


def test_report_embeds_everything(tmp_path, capsys):
    out = tmp_path / "phase"
    main(["phase", "--steps", "8", "--points", "4", "--draw-at", "0.5", "--out", str(out)])
    capsys.readouterr()
    main(["report", str(out)])
    assert "report.html" in capsys.readouterr().out
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "<table>" in page and "opt_w2" in page and "phase.json" in page
    assert "http://" not in page and "https://" not in page  # self-contained
    png = page.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(png)[:4] == b"\x89PNG"


def test_report_errors(tmp_path, capsys):
    for target in (tmp_path / "missing", tmp_path):
        with pytest.raises(SystemExit) as exc:
            main(["report", str(target)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: dir:") and len(err.strip().splitlines()) == 1


def test_report_store_summary(tmp_path):
    import sqlite3

    db = tmp_path / "results.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE runs(key TEXT, study TEXT, wall_s REAL)")
        con.execute("INSERT INTO runs VALUES ('a', 'toy', 1.5), ('b', 'toy', 2.0)")
    page = build_report(tmp_path).read_text()
    assert "toy" in page and ">2<" in page
