"""Fold metrics, summaries (mean, std, t-interval) and pooled per-class scores."""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from ._errors import ParameterError, unknown_message

#: Metrics computed on every outer fold; higher is better except ``log_loss``.
METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
LOWER_IS_BETTER = frozenset({"log_loss"})
#: Range of each metric; interval ends are clipped to it.
BOUNDS = {"accuracy": (0.0, 1.0), "balanced_accuracy": (0.0, 1.0), "f1_macro": (0.0, 1.0), "roc_auc": (0.0, 1.0),
          "log_loss": (0.0, math.inf)}


def check_metric(metric) -> str:
    if metric not in METRICS:
        raise ParameterError(unknown_message("metric", metric, METRICS))
    return metric


def global_scores(estimator, X, n_classes: int):
    """``(proba, scores)`` of a fitted classifier as (n, n_classes) arrays in the global class order.

    ``proba`` is None without ``predict_proba`` (columns of classes the estimator never saw are
    0). ``scores`` is ``proba`` when present, else the ``decision_function`` (binary scores
    expanded to two columns; unseen classes get a score below every other), else None.
    """
    classes = np.asarray(estimator.classes_).astype(np.int64)
    proba = scores = None
    if hasattr(estimator, "predict_proba"):
        try:
            p = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        except AttributeError:  # e.g. SVC(probability=False) exposes the method but refuses
            p = None
        if p is not None:
            proba = np.zeros((p.shape[0], n_classes))
            proba[:, classes] = p
            scores = proba
    if scores is None and hasattr(estimator, "decision_function"):
        d = np.asarray(estimator.decision_function(X), dtype=np.float64)
        if d.ndim == 1:
            d = np.column_stack([-d, d])
        scores = np.full((d.shape[0], n_classes), d.min() - 1.0 if d.size else 0.0)
        scores[:, classes] = d
    return proba, scores


def fold_metrics(y_true, y_pred, proba, scores, labels) -> dict[str, float]:
    """Metrics of one fold. ``labels`` are the classes present in the whole data set.

    ROC AUC (one-vs-rest macro for multiclass) needs scores and every class of ``labels`` in
    the fold, else NaN; log loss needs probabilities, else NaN.
    """
    labels = np.asarray(labels)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true" on grouped folds
        out["accuracy"] = float(accuracy_score(y_true, y_pred))
        out["balanced_accuracy"] = float(balanced_accuracy_score(y_true, y_pred))
        out["f1_macro"] = float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
        present = np.unique(y_true)
        auc = math.nan
        if scores is not None and np.array_equal(present, labels):
            if labels.size == 2:
                auc = roc_auc_score(y_true == labels[1], scores[:, labels[1]] - scores[:, labels[0]])
            else:
                auc = float(np.mean([roc_auc_score(y_true == c, scores[:, c]) for c in labels]))
        out["roc_auc"] = float(auc)
        ll = math.nan
        if proba is not None:
            p = proba[:, labels]
            p = np.clip(p, 1e-15, 1.0)
            p /= p.sum(axis=1, keepdims=True)
            ll = float(log_loss(y_true, p, labels=labels))
        out["log_loss"] = ll
    return out


def summarise(values, bounds: tuple[float, float] | None = None) -> dict:
    """``{"mean", "std", "ci95_low", "ci95_high", "folds", "n"}``; NaN folds are skipped.

    The interval is a t-interval over folds (mean +/- t(0.975, n-1) * std / sqrt(n)), clipped to
    ``bounds``. Folds share training rows, so it is somewhat too narrow; use it to rank, not as
    an exact coverage claim.
    """
    from scipy import stats

    folds = [float(v) for v in values]
    arr = np.array([v for v in folds if not math.isnan(v)])
    n = int(arr.size)
    mean = float(arr.mean()) if n else math.nan
    std = float(arr.std(ddof=1)) if n > 1 else math.nan
    if n > 1:
        half = float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))
        low, high = mean - half, mean + half
        if bounds is not None:
            low, high = max(low, bounds[0]), min(high, bounds[1])
    else:
        low = high = math.nan
    return {"mean": mean, "std": std, "ci95_low": low, "ci95_high": high, "folds": folds, "n": n}


def pooled_report(y_true, y_pred, n_classes: int, class_names) -> tuple[np.ndarray, dict]:
    """Confusion matrix (rows true, columns predicted, global class order) and per-class scores."""
    labels = np.arange(n_classes)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    per_class = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, name in enumerate(class_names)
    }
    return cm, per_class
