"""``CVResult``: everything one cross-validated configuration produced, and its JSON record."""

from __future__ import annotations

import dataclasses

import numpy as np

from featx.common import to_jsonable
from featx.common.jsonable import nan_from_none

from featx.classify._errors import ParameterError
from featx.classify._metrics import METRICS


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

        With ``predictions`` the record also holds the out-of-fold predictions (``oof_pred``),
        probabilities (``oof_proba``, None without them), the (train, test) indices of every fold
        (``fold_indices``; ``fold_test_indices`` repeats the test parts), so that
        :meth:`from_record` rebuilds an equal result.
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
            rec["oof_proba"] = self.oof_proba
            rec["fold_indices"] = [[train, test] for train, test in self.fold_indices]
            rec["fold_test_indices"] = [test for _, test in self.fold_indices]
        return to_jsonable(rec)

    @classmethod
    def from_record(cls, record: dict) -> CVResult:
        """The inverse of ``to_record(predictions=True)`` (also after ``json.dumps``/``json.loads``):
        None back to NaN in the metrics, times and probabilities, lists back to numpy arrays."""
        missing = [k for k in ("feature_set", "head", "metrics", "class_names", "confusion", "oof_pred", "fold_indices") if k not in record]
        if missing:
            raise ParameterError(
                f"the record lacks {', '.join(missing)}; rebuild a CVResult from to_record(predictions=True)"
            )
        proba = record.get("oof_proba")
        return cls(
            feature_set=record["feature_set"],
            head=record["head"],
            metrics=nan_from_none(record["metrics"]),
            best_params=list(record.get("best_params", [])),
            fit_times=[float(v) for v in nan_from_none(list(record.get("fit_times", [])))],
            confusion=np.asarray(record["confusion"], dtype=np.int64),
            class_names=list(record["class_names"]),
            per_class=dict(record.get("per_class", {})),
            oof_pred=np.asarray(record["oof_pred"], dtype=np.int64),
            fold_indices=[(np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)) for tr, te in record["fold_indices"]],
            meta=dict(record.get("meta", {})),
            config=dict(record.get("config", {})),
            oof_proba=None if proba is None else np.asarray(nan_from_none(proba), dtype=np.float64),
            score_times=[float(v) for v in nan_from_none(list(record.get("score_times", [])))],
        )

    def __repr__(self) -> str:
        m = self.metrics["balanced_accuracy"]
        return (
            f"CVResult({self.feature_set!r}, {self.head!r}, balanced_accuracy={m['mean']:.4f} +/- {m['std']:.4f}, "
            f"folds={self.n_folds})"
        )
