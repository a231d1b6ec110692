"""The report's plots as PNG bytes (matplotlib's Agg canvas; pyplot and the global backend are
never touched, so importing featx does not change a user's matplotlib setup)."""

from __future__ import annotations

import io
import math

import numpy as np

HEAD_COLOURS = {
    "logreg": "#1f77b4", "svm": "#d62728", "svm_rbf": "#9467bd", "rf": "#2ca02c", "xgb": "#ff7f0e",
    "knn": "#8c564b", "ridge": "#e377c2", "centroid": "#7f7f7f",
}
METRIC_LABELS = {
    "balanced_accuracy": "balanced accuracy", "accuracy": "accuracy", "f1_macro": "macro F1",
    "roc_auc": "ROC AUC", "log_loss": "log loss",
}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, facecolor="white")
    return buf.getvalue()


def _ok(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def layer_scores(records: list[dict], metric: str, title: str) -> bytes:
    """Mean ``metric`` (95% CI as error bars) by layer depth, one line per head, one panel per
    backbone; the best point is starred."""
    backbones = list(dict.fromkeys(r["backbone"] for r in records))
    heads = list(dict.fromkeys(r["head"] for r in records))
    fig = _figure(max(5.0, 4.2 * len(backbones)), 3.6)
    axes = fig.subplots(1, len(backbones), squeeze=False)[0]
    best = max((r for r in records if _ok(r.get(f"{metric}_mean"))), default=None,
               key=lambda r: r[f"{metric}_mean"] * (-1 if metric == "log_loss" else 1))
    for ax, bb in zip(axes, backbones):
        rows = [r for r in records if r["backbone"] == bb]
        layers = sorted({(r["depth"], r["layer"]) for r in rows})
        xs = {name: i for i, (_d, name) in enumerate(layers)}
        offset = np.linspace(-0.08, 0.08, len(heads)) if len(heads) > 1 else [0.0]
        for k, head in enumerate(heads):
            pts = sorted((xs[r["layer"]], r) for r in rows if r["head"] == head)
            if not pts:
                continue
            x = np.array([p[0] for p in pts], dtype=float) + offset[k]
            y = np.array([p[1][f"{metric}_mean"] if _ok(p[1][f"{metric}_mean"]) else np.nan for p in pts])
            lo = np.array([p[1][f"{metric}_ci95_low"] if _ok(p[1][f"{metric}_ci95_low"]) else np.nan for p in pts])
            hi = np.array([p[1][f"{metric}_ci95_high"] if _ok(p[1][f"{metric}_ci95_high"]) else np.nan for p in pts])
            err = np.vstack([np.nan_to_num(y - lo), np.nan_to_num(hi - y)])
            ax.errorbar(x, y, yerr=err, marker="o", ms=5, capsize=3, lw=1.6, label=head,
                        color=HEAD_COLOURS.get(head))
            for xi, (_i, r) in zip(x, pts):
                if r is best:
                    ax.plot([xi], [r[f"{metric}_mean"]], marker="*", ms=16, color="#f2b705", mec="black", zorder=5)
        labels = []
        for _d, name in layers:
            r = next(r for r in rows if r["layer"] == name)
            alias = r.get("layer_as_written")
            labels.append(f"{name}\n({alias}, {r['feature_dim']}-d)" if alias and alias != name else f"{name}\n({r['feature_dim']}-d)")
        ax.set_xticks(range(len(layers)), labels, fontsize=8)
        ax.set_xlim(-0.5, len(layers) - 0.5)
        ax.set_xlabel("layer (shallow -> deep)")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        ax.set_title(bb, fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8, loc="best", title="head", title_fontsize=8)
    fig.suptitle(title, fontsize=11)
    return _png(fig)


def confusion(matrix, class_names: list[str], title: str) -> bytes:
    """Row-normalised confusion matrix (recall per true class), counts written in the cells."""
    cm = np.asarray(matrix, dtype=float)
    n = len(class_names)
    size = min(9.0, max(4.0, 0.4 * n + 2.4))
    fig = _figure(size + 1.0, size)
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
    return _png(fig)


def learning_curve(curve: dict, title: str) -> bytes:
    """Test (and training) score vs training-set size, mean +/- std over the outer folds."""
    fig = _figure(5.6, 3.6)
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
    return _png(fig)


def pca_variance(docs: dict, title: str, pca_setting=None) -> bytes:
    """Cumulative explained variance vs number of components, one line per feature set."""
    fig = _figure(5.6, 3.6)
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
    return _png(fig)


def stage_times(timings: dict, title: str) -> bytes:
    """Horizontal bars: seconds per stage."""
    items = [(k, v) for k, v in timings.items() if k != "total"]
    fig = _figure(5.6, 0.45 * len(items) + 1.2)
    ax = fig.subplots()
    names = [k for k, _ in items][::-1]
    vals = [v for _, v in items][::-1]
    ax.barh(names, vals, color="#4c72b0")
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v:.1f}s", va="center", fontsize=8)
    ax.set_xlabel("seconds")
    ax.set_xlim(0, max(vals + [1e-3]) * 1.25)
    ax.set_title(title, fontsize=10)
    return _png(fig)
