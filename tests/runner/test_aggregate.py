import math

from distillplan.runner import aggregate, format_table, infer_metrics, write_csv

ROWS = [
    {"a": 2, "seed": 0, "x": 1.0, "y": 10},
    {"a": 1, "seed": 0, "x": 1.0, "y": 4},
    {"a": 1, "seed": 1, "x": 2.0, "y": 6},
    {"a": 1, "seed": 2, "x": 6.0, "y": None},
]


def test_mean_and_sample_std_are_exact():
    table = aggregate(ROWS, ["a"], ["x", "y"])
    assert [r["a"] for r in table] == [1, 2]
    first = table[0]
    assert first["n"] == 3
    assert first["x_mean"] == 3.0
    assert first["x_std"] == math.sqrt(7.0)  # deviations -2, -1, 3: (4 + 1 + 9) / 2
    assert first["y_mean"] == 5.0 and first["y_std"] == math.sqrt(2.0)  # None is left out
    single = table[1]
    assert single["n"] == 1 and single["x_mean"] == 1.0 and math.isnan(single["x_std"])


def test_metrics_are_inferred_from_numeric_columns():
    rows = [{"a": 1, "seed": 0, "name": "p", "ok": True, "x": 1.5}]
    assert infer_metrics(rows, exclude=["a"]) == ("x",)
    assert list(aggregate(rows, ["a"])[0]) == ["a", "n", "x_mean", "x_std"]


def test_groups_sort_numerically_and_accept_list_values():
    rows = [{"g": [1, 2], "k": 10.0, "x": 1}, {"g": [1, 2], "k": 9.0, "x": 3}, {"g": [1, 2], "k": 9.0, "x": 5}]
    table = aggregate(rows, ["k", "g"], ["x"])
    assert [(r["k"], r["n"], r["x_mean"]) for r in table] == [(9.0, 2, 4.0), (10.0, 1, 1.0)]


def test_csv_and_text(tmp_path):
    table = aggregate(ROWS, ["a"], ["x"])
    path = write_csv(table, tmp_path / "t.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "a,n,x_mean,x_std"
    assert lines[1] == f"1,3,3.0,{math.sqrt(7.0)!r}"
    assert lines[2] == "2,1,1.0,nan"
    text = format_table(table)
    assert text.splitlines()[0].split() == ["a", "n", "x"]
    assert "3 ± 2.6" in text and "2.6" not in text.splitlines()[-1]
    assert format_table([]) == "(no rows)"
