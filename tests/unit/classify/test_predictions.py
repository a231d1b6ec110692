"""write_predictions: a bundle's predictions as CSV (a file or stdout)."""

from __future__ import annotations

import csv

import numpy as np

from featx.classify import write_predictions


def test_csv_to_a_file_then_failures_with_empty_cells(tmp_path):
    proba = np.array([[0.9, 0.1], [0.25, 0.75]])
    rows = [("ants/a.jpg", "ants", list(proba[0])), ("bees/\udcff.jpg", "bees", list(proba[1]))]  # undecodable name kept
    out = tmp_path / "p.csv"
    write_predictions(rows, ["ants", "bees"], str(out), [("bad.jpg", "cannot decode")])
    with open(out, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        table = list(csv.reader(fh))
    assert table == [["path", "predicted", "p_ants", "p_bees"], ["ants/a.jpg", "ants", "0.900000", "0.100000"],
                     ["bees/\udcff.jpg", "bees", "0.250000", "0.750000"], ["bad.jpg", "", "", ""]]


def test_stdout_when_no_output(capsys):
    write_predictions([("x.png", "b", [0.0, 1.0])], ["a", "b"])
    assert capsys.readouterr().out.splitlines() == ["path,predicted,p_a,p_b", "x.png,b,0.000000,1.000000"]
