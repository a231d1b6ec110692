"""Plots of the classical-ML analyses as PNG bytes, beside the computations (as scikit-learn keeps
``ConfusionMatrixDisplay``, ``CalibrationDisplay`` and ``LearningCurveDisplay``): the confusion
matrix, a learning curve, PCA spectra, a reliability diagram and a 2-D map of the rows.

Figures are drawn on matplotlib's Agg canvas: pyplot and the global backend are never touched,
and matplotlib is imported only when a plot is drawn, so importing featx.classify stays fast and
leaves a user's matplotlib setup alone."""

from __future__ import annotations

import io

import numpy as np

from featx.classify._metrics import METRIC_LABELS

from featx.classify.heads._registry import HEAD_COLOURS  # noqa: F401 (line colour of each registered head, read live)


def agg_figure(width: float, height: float):
    """A matplotlib ``Figure`` (inches, 110 dpi, constrained layout) on its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig) -> bytes:
    """``fig`` as PNG bytes on a white background."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, facecolor="white")
    return buf.getvalue()


def confusion_png(matrix, class_names: list[str], title: str) -> bytes:
    """Row-normalised confusion matrix (recall per true class), counts written in the cells."""
    cm = np.asarray(matrix, dtype=float)
    n = len(class_names)
    size = min(9.0, max(4.0, 0.4 * n + 2.4))
    fig = agg_figure(size + 1.0, size)
    ax = fig.subplots()
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=8 if n <= 12 else 6,
                            color="white" if norm[i, j] > 0.5 else "black")
    ticks = range(n)
    short = [c if len(c) <= 12 else c[:11] + "…" for c in class_names]
    tilt = n > 6 and max(len(c) for c in short) > 3
    ax.set_xticks(ticks, short, rotation=45 if tilt else 0, ha="right" if tilt else "center", fontsize=8)
    ax.set_yticks(ticks, short, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    return png_bytes(fig)


def learning_curve_png(curve: dict, title: str) -> bytes:
    """Test (and training) score vs training-set size, mean +/- std over the outer folds, from a
    :func:`learning_curve` result."""
    fig = agg_figure(5.6, 3.6)
    ax = fig.subplots()
    x = np.asarray(curve["train_sizes"], dtype=float)
    for key, label, style in (("test", "outer test folds", "-"), ("train", "training rows", "--")):
        m = np.asarray([np.nan if v is None else v for v in curve[f"{key}_mean"]], dtype=float)
        s = np.asarray([np.nan if v is None else v for v in curve[f"{key}_std"]], dtype=float)
        ax.plot(x, m, style, marker="o", ms=4, label=label, color="#1f77b4" if key == "test" else "#7f7f7f")
        ax.fill_between(x, m - s, m + s, alpha=0.18, color="#1f77b4" if key == "test" else "#7f7f7f")
    top = ax.secondary_xaxis("top", functions=(lambda v: v / max(x[-1], 1) * curve["fractions"][-1],
                                               lambda f: f * max(x[-1], 1) / curve["fractions"][-1]))
    top.set_xlabel("fraction of each training fold", fontsize=8)
    ax.set_xlabel("training rows per fold")
    ax.set_ylabel(METRIC_LABELS.get(curve["metric"], curve["metric"]))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    return png_bytes(fig)


def variance_png(docs: dict, title: str, pca_setting=None) -> bytes:
    """Cumulative explained variance vs number of components, one line per feature set (``docs``:
    name -> :func:`explained_variance` result); ``pca_setting`` (components or a variance
    fraction) is drawn as a red line."""
    fig = agg_figure(5.6, 3.6)
    ax = fig.subplots()
    for name, doc in docs.items():
        cum = np.asarray(doc["cumulative"], dtype=float)
        ax.plot(np.arange(1, len(cum) + 1), cum, lw=1.8, label=f"{name} ({doc['dim']}-d)")
    for t in (0.9, 0.95, 0.99):
        ax.axhline(t, color="grey", lw=0.8, ls=":")
        ax.text(1.02, t, f"{t:g}", va="center", fontsize=7, color="grey", transform=ax.get_yaxis_transform())
    if isinstance(pca_setting, int) and not isinstance(pca_setting, bool):
        ax.axvline(pca_setting, color="#d62728", lw=1, ls="--", label=f"PCA setting: {pca_setting} components")
    elif isinstance(pca_setting, float):
        ax.axhline(pca_setting, color="#d62728", lw=1, ls="--", label=f"PCA setting: {pca_setting:g} of the variance")
    ax.set_xscale("log")
    ax.set_xlabel("principal components (standardised features)")
    ax.set_ylabel("cumulative explained variance")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=10)
    return png_bytes(fig)


def reliability_png(cal: dict, title: str) -> bytes:
    """Reliability diagram of a :func:`calibration` result: accuracy per confidence bin against the
    diagonal of perfect calibration."""
    fig = agg_figure(3.6, 3.2)
    ax = fig.add_subplot()
    bins = [b for b in cal["bins"] if b["count"]]
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--")
    ax.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["accuracy"] for b in bins],
           width=[b["high"] - b["low"] for b in bins], alpha=0.6, edgecolor="#1f77b4", label="accuracy")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color="#d62728", ms=3, label="per bin")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top class)", ylabel="accuracy", title=title)
    ax.legend(fontsize=7, loc="upper left")
    return png_bytes(fig)


def map_png(xy, labels, class_names: list[str], title: str, *, pred=None, suspect=None) -> bytes:
    """Scatter of a :func:`map_2d` layout coloured by class. ``pred`` (out-of-fold predictions,
    -1 where none) marks misclassified rows with x; ``suspect`` (a boolean mask) circles suspected
    label errors in red."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    y = np.asarray(labels)
    fig = agg_figure(5.2, 4.2)
    ax = fig.add_subplot()
    for c, name in enumerate(class_names):
        m = y == c
        ax.scatter(xy[m, 0], xy[m, 1], s=9, alpha=0.7, label=name)
    if pred is not None:
        wrong = (np.asarray(pred) != y) & (np.asarray(pred) >= 0)
        ax.scatter(xy[wrong, 0], xy[wrong, 1], s=28, marker="x", color="black", lw=0.8, label="misclassified (out of fold)")
    if suspect is not None:
        s = np.asarray(suspect, dtype=bool)
        ax.scatter(xy[s, 0], xy[s, 1], s=60, facecolors="none", edgecolors="red", lw=0.9, label="suspected label error")
    ax.set(xticks=[], yticks=[], title=title)
    ax.legend(fontsize=7, loc="best", markerscale=1.2)
    return png_bytes(fig)
