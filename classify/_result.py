"""``CVResult``: everything one cross-validated configuration produced, and its JSON record."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from ._metrics import METRICS


def to_jsonable(value: Any) -> Any:
    """numpy scalars/arrays -> Python floats/ints/lists; NaN/inf -> None; tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)  # estimators in param grids, paths...


@dataclasses.dataclass(frozen=True, eq=False)
class CVResult:
    """Scores of one head on one feature set over the outer folds.

    ``metrics[name]`` is ``{"mean", "std", "ci95_low", "ci95_high", "folds": [...], "n"}`` for
    every name of ``METRICS`` (NaN folds, e.g. ROC AUC on a fold missing a class, are skipped in
    the summary; the t-interval is clipped to the metric's range). ``best_params`` has one dict per outer fold (empty list without a search).
    ``confusion`` is summed over outer folds, rows true and columns predicted, in
    ``class_names`` order; ``per_class`` comes from the pooled out-of-fold predictions.
    ``oof_pred`` is (n_repeats, n_samples) predicted class indices (-1 where a row was never in a
    test fold); ``oof_proba`` the matching (n_repeats, n_samples, n_classes) probabilities or
    None. ``fold_indices`` is the list of (train, test) index arrays; ``config`` the CV settings.
    """

    feature_set: str
    head: str
    metrics: dict
    best_params: list
    fit_times: list
    confusion: np.ndarray
    class_names: list
    per_class: dict
    oof_pred: np.ndarray
    fold_indices: list
    meta: dict = dataclasses.field(default_factory=dict)
    config: dict = dataclasses.field(default_factory=dict)
    oof_proba: np.ndarray | None = None
    score_times: list = dataclasses.field(default_factory=list)

    def mean(self, metric: str = "balanced_accuracy") -> float:
        return self.metrics[metric]["mean"]

    @property
    def n_folds(self) -> int:
        return len(self.fold_indices)

    def summary_record(self) -> dict:
        """The tidy one-row record used by ``Comparison.records()``."""
        rec = {
            "feature_set": self.feature_set,
            "head": self.head,
            "n_samples": int(self.oof_pred.shape[-1]),
            "n_classes": len(self.class_names),
            "n_folds": self.n_folds,
            "repeats": self.config.get("repeats"),
            "nested": self.config.get("nested"),
            "pca": self.config.get("pca"),
            "seed": self.config.get("seed"),
        }
        for name in METRICS:
            m = self.metrics[name]
            for stat in ("mean", "std", "ci95_low", "ci95_high"):
                rec[f"{name}_{stat}"] = m[stat]
        rec["fit_time_mean"] = float(np.mean(self.fit_times)) if self.fit_times else None
        rec["fit_time_total"] = float(np.sum(self.fit_times))
        rec["best_params"] = list(self.best_params)
        return to_jsonable(rec)

    def to_record(self, *, predictions: bool = True) -> dict:
        """Everything as JSON-serialisable data (numpy -> lists/floats, NaN -> None).

        With ``predictions`` the out-of-fold predictions (``oof_pred``) and the test indices of
        every fold (``fold_test_indices``) are included; probabilities are never included.
        """
        rec = {
            "feature_set": self.feature_set,
            "head": self.head,
            "class_names": list(self.class_names),
            "metrics": self.metrics,
            "best_params": self.best_params,
            "fit_times": self.fit_times,
            "score_times": self.score_times,
            "confusion": self.confusion,
            "per_class": self.per_class,
            "config": self.config,
            "meta": self.meta,
        }
        if predictions:
            rec["oof_pred"] = self.oof_pred
            rec["fold_test_indices"] = [test for _, test in self.fold_indices]
        return to_jsonable(rec)

    def __repr__(self) -> str:
        m = self.metrics["balanced_accuracy"]
        return (
            f"CVResult({self.feature_set!r}, {self.head!r}, balanced_accuracy={m['mean']:.4f} +/- {m['std']:.4f}, "
            f"folds={self.n_folds})"
        )
