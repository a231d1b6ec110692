"""A metric on held-out rows with a 95% bootstrap interval (the rows resampled with replacement,
seeded): the interval of a single held-out split, where there are no folds to spread over.

The point value is :func:`fold_metrics`' (the CV's own metric functions); resamples are scored by
the numpy versions below (the same formulas, a test holds them equal), so a thousand resamples of
every metric cost milliseconds.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata

from featx.classify._metrics import fold_metrics

N_BOOT = 1000


def bootstrap_scores(y_true, y_pred, proba, n_classes: int, metrics, *, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """``{metric: {"mean", "ci95_low", "ci95_high"}}``: ``mean`` is the metric on all the rows,
    the interval the 2.5 and 97.5 percentiles of ``n_boot`` resamples (NaN resamples, e.g. ROC AUC
    on one missing a class, are skipped). ``proba`` (n, n_classes) may be None."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    proba = None if proba is None else np.asarray(proba, dtype=np.float64)
    labels = np.arange(int(n_classes))
    metrics = tuple(metrics)
    point = fold_metrics(y_true, y_pred, proba, proba, labels, metrics)
    rng = np.random.default_rng(int(seed))
    n = len(y_true)
    draws = {m: [] for m in metrics}
    for _ in range(int(n_boot) if n else 0):
        idx = rng.integers(0, n, n)
        p = None if proba is None else proba[idx]
        for m in metrics:
            v = fast_metric(m, y_true[idx], y_pred[idx], p, int(n_classes))
            if not math.isnan(v):
                draws[m].append(v)
    out = {}
    for m in metrics:
        d = np.asarray(draws[m])
        lo, hi = (float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))) if d.size else (math.nan, math.nan)
        out[m] = {"mean": float(point[m]), "ci95_low": lo, "ci95_high": hi}
    return out


def fast_metric(metric: str, y, pred, proba, n_classes: int) -> float:
    """One metric of ``METRICS`` in numpy (as :func:`fold_metrics` computes it)."""
    if metric == "accuracy":
        return float(np.mean(y == pred)) if len(y) else math.nan
    cm = np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    support, predicted, hits = cm.sum(1), cm.sum(0), np.diag(cm)
    if metric == "balanced_accuracy":
        seen = support > 0
        return float(np.mean(hits[seen] / support[seen]))
    if metric == "f1_macro":
        denom = support + predicted
        return float(np.mean(np.where(denom > 0, 2 * hits / np.maximum(denom, 1), 0.0)))
    if proba is None:
        return math.nan
    if metric == "log_loss":
        p = np.clip(proba, 1e-15, 1.0)
        p = p / p.sum(axis=1, keepdims=True)
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))
    if metric == "roc_auc":
        if np.count_nonzero(support) < n_classes:
            return math.nan
        if n_classes == 2:
            return _auc(y == 1, proba[:, 1] - proba[:, 0])
        return float(np.mean([_auc(y == c, proba[:, c]) for c in range(n_classes)]))
    raise ValueError(f"unknown metric {metric!r}")


def _auc(positive, score) -> float:
    """The Mann-Whitney form of the ROC AUC (ties count half)."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def heldout_record(parts, y, n_classes: int, metrics, *, seed: int = 0, n_boot: int = N_BOOT) -> dict:
    """The scores of predictions pooled over held-out parts (one per split; each row held out
    once): ``parts`` are ``{"test": rows, "pred": classes, "proba": (n, K) or None}``. Returns
    ``n_test`` and ``<metric>_mean`` / ``_ci95_low`` / ``_ci95_high`` (bootstrap over the pooled
    rows, :func:`bootstrap_scores`)."""
    y = np.asarray(y)
    test = np.concatenate([np.asarray(p["test"], dtype=np.int64) for p in parts])
    if len(np.unique(test)) != len(test):
        raise ValueError("a row is held out by two parts; pooled held-out predictions need disjoint test rows")
    pred = np.concatenate([np.asarray(p["pred"], dtype=np.int64) for p in parts])
    probas = [p.get("proba") for p in parts]
    proba = None if any(p is None for p in probas) else np.concatenate([np.asarray(p, dtype=np.float64) for p in probas])
    scores = bootstrap_scores(y[test], pred, proba, n_classes, metrics, n_boot=n_boot, seed=seed)
    out = {"n_test": int(len(test))}
    for m, s in scores.items():
        out.update({f"{m}_mean": s["mean"], f"{m}_ci95_low": s["ci95_low"], f"{m}_ci95_high": s["ci95_high"]})
    return out
