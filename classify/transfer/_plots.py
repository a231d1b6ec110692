"""The transfer study's plots as PNG bytes: held-out score against training images (data
efficiency) and validation loss / accuracy per epoch (convergence), fine-tuned against scratch."""

from __future__ import annotations

import numpy as np

from featx.classify._display import HEAD_COLOURS, agg_figure, png_bytes
from featx.classify._metrics import METRIC_LABELS

COLOURS = {"frozen": "#1f77b4", "finetuned": "#8c1515", "finetuned_features": "#9467bd", "scratch": "#222222"}


def efficiency_png(curves: dict, metric: str, title: str) -> bytes:
    """``curves``: line label -> (approach, [points]) with points ``{"n_train", "<metric>_mean",
    "_ci95_low", "_ci95_high"}``; one line per label with its 95% band."""
    fig = agg_figure(6.0, 3.8)
    ax = fig.subplots()
    for label, (approach, points) in curves.items():
        pts = sorted(points, key=lambda p: p["n_train"])
        x = np.array([p["n_train"] for p in pts], dtype=float)
        y, lo, hi = (np.array([np.nan if p.get(k) is None else p[k] for p in pts], dtype=float)
                     for k in (f"{metric}_mean", f"{metric}_ci95_low", f"{metric}_ci95_high"))
        head = pts[0].get("head") if pts else None
        colour = HEAD_COLOURS.get(head, COLOURS["frozen"]) if approach == "frozen" else COLOURS.get(approach)
        ax.plot(x, y, "--" if approach == "scratch" else "-", marker="o", lw=1.8, label=label, color=colour)
        ax.fill_between(x, lo, hi, alpha=0.15, color=colour)
    ax.set_xlabel("training images")
    ax.set_ylabel(f"held-out {METRIC_LABELS.get(metric, metric)}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title, fontsize=10)
    return png_bytes(fig)


def convergence_png(histories: dict, title: str) -> bytes:
    """``histories``: line label -> (approach, epoch rows with ``epoch``, ``val_loss``, ``val_acc``);
    validation loss (left) and accuracy (right) per epoch."""
    fig = agg_figure(8.0, 3.4)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for label, (approach, rows) in histories.items():
        rows = [r for r in rows if r.get("val_loss") is not None]
        if not rows:
            continue
        e = [r["epoch"] for r in rows]
        style = "--" if approach == "scratch" else "-"
        colour = COLOURS.get(approach) if approach == "scratch" else None
        loss_ax.plot(e, [r["val_loss"] for r in rows], style, marker="o", ms=3, label=label, color=colour)
        acc_ax.plot(e, [r["val_acc"] for r in rows], style, marker="o", ms=3, label=label, color=colour)
    from matplotlib.ticker import MaxNLocator

    for ax, what in ((loss_ax, "validation loss"), (acc_ax, "validation accuracy")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.grid(True, alpha=0.3)
    acc_ax.legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    return png_bytes(fig)
