"""featx.classify's plots: PNG bytes of real analyses, drawn on an Agg canvas without pyplot."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from helpers.classify_synth import blobs
from matplotlib import colormaps
from PIL import Image as PIL

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


def _pixels(png: bytes) -> np.ndarray:
    with PIL.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def _count(img: np.ndarray, rgb, tol: int = 4) -> int:
    """Pixels within ``tol`` of colour ``rgb`` on every channel."""
    return int((np.abs(img - np.asarray(rgb)).max(axis=2) <= tol).sum())


def _cmap_rgb(name: str, value: float) -> tuple[int, ...]:
    return tuple(round(255 * c) for c in colormaps[name](value)[:3])


@pytest.mark.parametrize("n", [2, 3, 4])
def test_the_confusion_matrix_draws_one_cell_per_pair_of_classes(n):
    """A perfect classifier: n full (darkest blue) cells on the diagonal, n * n - n empty
    (lightest blue) ones; their areas stand in that ratio (the counts' white digits sit on the dark cells)."""
    img = _pixels(confusion_png(np.eye(n, dtype=int) * 10, [f"c{i}" for i in range(n)], "cm"))
    dark, light = _count(img, _cmap_rgb("Blues", 1.0)), _count(img, _cmap_rgb("Blues", 0.0))
    assert dark > 1000 and light > 1000
    assert dark / light == pytest.approx(n / (n * n - n), rel=0.2)


def test_the_map_draws_each_class_in_its_colour_and_circles_suspects_in_red():
    fs = blobs(n=90, d=8, k=3, std=4.0)
    rows, xy = map_2d(fs.X, fs.y, seed=0)
    y = fs.y[rows]
    red = lambda img: int(((img[..., 0] >= 200) & (img[..., 1] <= 80) & (img[..., 2] <= 80)).sum())  # noqa: E731
    # tab10's first three colours at alpha 0.7 over white (a point on its own)
    shades = [tuple(round(0.7 * c + 0.3 * 255) for c in rgb) for rgb in ((31, 119, 180), (255, 127, 14), (44, 160, 44))]
    plain = _pixels(map_png(xy, y, fs.class_names, "map"))
    assert all(_count(plain, rgb, tol=10) > 20 for rgb in shades)
    assert red(plain) == 0
    marked = _pixels(map_png(xy, y, fs.class_names, "map", suspect=rows < 3))
    assert red(marked) > 50  # 3 circles and the legend's
    two = _pixels(map_png(xy[y < 2], y[y < 2], fs.class_names[:2], "map"))
    assert _count(two, shades[0], tol=10) > 20 and _count(two, shades[2], tol=10) == 0


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
