"""Output tables and figures are replaced whole or not at all."""

import pytest

from distillplan.atomic import atomic_write
from distillplan.runner import write_csv


class Unprintable:
    def __str__(self):
        raise RuntimeError("cannot print")


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "table.csv"
    write_csv([{"a": 1, "b": 2.5}], path)
    before = path.read_text()
    assert before == "a,b\n1,2.5\n"
    with pytest.raises(RuntimeError, match="cannot print"):
        write_csv([{"a": 2, "b": 1.0}, {"a": 3, "b": Unprintable()}], path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_atomic_write_creates_the_folder_and_replaces_the_file(tmp_path):
    path = tmp_path / "sub" / "x.bin"
    with atomic_write(path, "wb") as fh:
        fh.write(b"one")
        assert not path.exists()  # invisible until complete
    with atomic_write(path, "wb") as fh:
        fh.write(b"two")
    assert path.read_bytes() == b"two" and [p.name for p in path.parent.iterdir()] == ["x.bin"]


def test_save_figure_writes_the_format_of_the_suffix_atomically(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from distillplan.plots import save_figure

    for name in ("f.png", "f.svg"):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        save_figure(fig, tmp_path / name)
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "f.svg").read_bytes()[:1000]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "f.svg"]
