"""The report's job-specific plots as PNG bytes: scores by layer depth per backbone and head, and
time per stage (on featx.classify's Agg figures; the plots of classical-ML analyses live there)."""

from __future__ import annotations

import numpy as np

from featx.classify import agg_figure, png_bytes
from featx.classify.cv import METRIC_LABELS
from featx.classify.heads import HEAD_COLOURS
from featx.common.html import is_number as ok_number


def layer_scores(records: list[dict], metric: str, title: str) -> bytes:
    """Mean ``metric`` (95% CI as error bars) by layer depth, one line per head, one panel per
    backbone; the best point is starred."""
    backbones = list(dict.fromkeys(r["backbone"] for r in records))
    heads = list(dict.fromkeys(r["head"] for r in records))
    fig = agg_figure(max(5.0, 4.2 * len(backbones)), 3.6)
    axes = fig.subplots(1, len(backbones), squeeze=False)[0]
    best = max((r for r in records if ok_number(r.get(f"{metric}_mean"))), default=None,
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
            y, lo, hi = (np.array([r[key] if ok_number(r[key]) else np.nan for _, r in pts])
                         for key in (f"{metric}_mean", f"{metric}_ci95_low", f"{metric}_ci95_high"))
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
    return png_bytes(fig)


def stage_times(timings: dict, title: str) -> bytes:
    """Horizontal bars: seconds per stage."""
    items = [(k, v) for k, v in timings.items() if k != "total"]
    fig = agg_figure(5.6, 0.45 * len(items) + 1.2)
    ax = fig.subplots()
    names = [k for k, _ in items][::-1]
    vals = [v for _, v in items][::-1]
    ax.barh(names, vals, color="#4c72b0")
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v:.1f}s", va="center", fontsize=8)
    ax.set_xlabel("seconds")
    ax.set_xlim(0, max(vals + [1e-3]) * 1.25)
    ax.set_title(title, fontsize=10)
    return png_bytes(fig)
