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

from featx.common import Option

from featx.classify._errors import check_option
from featx.classify.heads._options import METRIC, METRICS, SEARCH_METRIC  # noqa: F401 (defined in the light module)

#: How each metric is written in plot axes and reports.
METRIC_LABELS = {
    "balanced_accuracy": "balanced accuracy", "accuracy": "accuracy", "f1_macro": "macro F1",
    "roc_auc": "ROC AUC", "log_loss": "log loss",
}
LOWER_IS_BETTER = frozenset({"log_loss"})
#: Range of each metric; interval ends are clipped to it.
BOUNDS = {"accuracy": (0.0, 1.0), "balanced_accuracy": (0.0, 1.0), "f1_macro": (0.0, 1.0), "roc_auc": (0.0, 1.0),
          "log_loss": (0.0, math.inf)}


def check_metric(metric, option: Option = METRIC) -> str:
    """``metric`` if it is one of ``METRICS`` (``option`` names it in the message)."""
    return check_option(option, metric)


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


def _accuracy(y_true, y_pred, proba, scores, labels) -> float:
    return float(accuracy_score(y_true, y_pred))


def _balanced_accuracy(y_true, y_pred, proba, scores, labels) -> float:
    return float(balanced_accuracy_score(y_true, y_pred))


def _f1_macro(y_true, y_pred, proba, scores, labels) -> float:
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def _roc_auc(y_true, y_pred, proba, scores, labels) -> float:
    if scores is None or not np.array_equal(np.unique(y_true), labels):
        return math.nan
    if labels.size == 2:
        return float(roc_auc_score(y_true == labels[1], scores[:, labels[1]] - scores[:, labels[0]]))
    return float(np.mean([roc_auc_score(y_true == c, scores[:, c]) for c in labels]))


def _log_loss(y_true, y_pred, proba, scores, labels) -> float:
    if proba is None:
        return math.nan
    p = np.clip(proba[:, labels], 1e-15, 1.0)
    p /= p.sum(axis=1, keepdims=True)
    return float(log_loss(y_true, p, labels=labels))


#: The one table of metric functions ``f(y_true, y_pred, proba, scores, labels) -> float``.
_FUNCTIONS = {"accuracy": _accuracy, "balanced_accuracy": _balanced_accuracy, "f1_macro": _f1_macro,
              "roc_auc": _roc_auc, "log_loss": _log_loss}
#: Metrics that need ``proba`` or ``scores`` (the others only need predictions).
_NEEDS_SCORES = frozenset({"roc_auc", "log_loss"})


def fold_metrics(y_true, y_pred, proba, scores, labels, metrics=METRICS) -> dict[str, float]:
    """Metrics of one fold. ``labels`` are the classes present in the whole data set.

    ROC AUC (one-vs-rest macro for multiclass) needs scores and every class of ``labels`` in
    the fold, else NaN; log loss needs probabilities, else NaN.
    """
    labels = np.asarray(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true" on grouped folds
        return {m: _FUNCTIONS[m](y_true, y_pred, proba, scores, labels) for m in metrics}


class MetricScorer:
    """``scorer(estimator, X, y) -> float``: one metric of :data:`METRICS`, computed as the CV
    reports it (:func:`fold_metrics`), for a fitted classifier whose classes are label indices.

    ``greater_is_better=True`` (for scikit-learn searches) negates ``log_loss``; otherwise the
    metric's own value is returned. ``labels`` default to the classes seen by the estimator or
    present in ``y``; a metric that cannot be computed (a class missing from a fold, no
    probabilities) is NaN.
    """

    def __init__(self, metric: str, *, labels=None, greater_is_better: bool = True):
        self.metric = check_metric(metric)
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.greater_is_better = greater_is_better

    def __call__(self, estimator, X, y) -> float:
        y = np.asarray(y)
        pred = np.asarray(estimator.predict(X)).astype(np.int64)
        labels = self.labels
        if labels is None:
            labels = np.union1d(np.asarray(estimator.classes_).astype(np.int64), np.unique(y))
        proba = scores = None
        if self.metric in _NEEDS_SCORES:
            n_classes = int(max(labels.max(), np.asarray(estimator.classes_).max())) + 1
            proba, scores = global_scores(estimator, X, n_classes)
        value = fold_metrics(y, pred, proba, scores, labels, metrics=(self.metric,))[self.metric]
        return -value if self.greater_is_better and self.metric in LOWER_IS_BETTER else value

    def __repr__(self) -> str:
        return f"MetricScorer({self.metric!r})"


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
