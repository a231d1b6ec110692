"""featx.classify's plots: PNG bytes of real analyses, drawn on an Agg canvas without pyplot."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from classify_synth import blobs

from featx.classify import (
    METRIC_LABELS,
    METRICS,
    agg_figure,
    calibration,
    confusion_png,
    cross_validate_head,
    explained_variance,
    learning_curve,
    learning_curve_png,
    make_splitter,
    map_2d,
    map_png,
    png_bytes,
    reliability_png,
    variance_png,
)

PIL = pytest.importorskip("PIL.Image")


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with PIL.open(io.BytesIO(png)) as im:
        return im.size


def test_every_metric_has_a_label():
    assert set(METRIC_LABELS) == set(METRICS)
    assert METRIC_LABELS["f1_macro"] == "macro F1"


def test_plots_of_real_analyses_are_pngs_of_the_figure_size():
    fs = blobs(n=90, d=8, k=3, std=4.0)
    splits = make_splitter(fs.y, folds=3, seed=0)
    res = cross_validate_head(fs, "logreg", splits=splits)
    assert _size(confusion_png(res.confusion, res.class_names, "cm")) == (550, 440)  # (4 + 1) x 4 in at 110 dpi
    curve = learning_curve(fs, "logreg", {}, splits, [0.3, 1.0], metric="accuracy")
    assert _size(learning_curve_png(curve, "lc")) == (616, 396)
    ev = explained_variance(fs)
    assert _size(variance_png({"f": ev}, "pca", 0.9)) == _size(variance_png({"f": ev}, "pca", 3)) == (616, 396)
    proba = np.eye(3)[fs.y] * 0.6 + 0.4 / 3
    assert _size(reliability_png(calibration(fs.y, proba), "rel")) == (396, 352)
    rows, xy = map_2d(fs.X, fs.y, seed=0)
    pred = fs.y[rows].copy()
    pred[:5] = (pred[:5] + 1) % 3
    assert _size(map_png(xy, fs.y[rows], fs.class_names, "map", pred=pred, suspect=rows < 3)) == (572, 462)
    assert map_png(xy, fs.y[rows], fs.class_names, "map") != map_png(xy, fs.y[rows], fs.class_names, "map", pred=pred)


def test_an_own_figure_on_the_agg_canvas():
    fig = agg_figure(2.0, 1.0)
    fig.subplots().plot([0, 1], [1, 0])
    assert _size(png_bytes(fig)) == (220, 110)


def test_importing_and_drawing_leave_pyplot_and_the_backend_alone():
    code = ("import sys, featx.classify as c; assert 'matplotlib' not in sys.modules, 'imported eagerly'; "
            "c.confusion_png([[2, 1], [0, 3]], ['a', 'b'], 't'); import matplotlib; "
            "assert 'matplotlib.pyplot' not in sys.modules; print(matplotlib.rcParams['backend'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"MPLBACKEND": "svg"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "svg"
