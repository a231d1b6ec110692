"""CVResult.to_record(predictions=True) -> JSON -> CVResult.from_record gives back an equal result."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers.classify_synth import blobs

from featx.classify import CVResult, ParameterError, cross_validate_head, make_splitter


def _same(a: CVResult, b: CVResult) -> None:
    assert a.to_record() == b.to_record()
    assert np.array_equal(a.oof_pred, b.oof_pred) and b.oof_pred.dtype == np.int64
    assert np.array_equal(a.confusion, b.confusion) and isinstance(b.confusion, np.ndarray)
    if a.oof_proba is None:
        assert b.oof_proba is None
    else:
        assert np.allclose(a.oof_proba, b.oof_proba, equal_nan=True) and b.oof_proba.shape == a.oof_proba.shape
    assert len(a.fold_indices) == len(b.fold_indices)
    for (tr_a, te_a), (tr_b, te_b) in zip(a.fold_indices, b.fold_indices):
        assert np.array_equal(tr_a, tr_b) and np.array_equal(te_a, te_b) and te_b.dtype == np.int64
    for name, m in a.metrics.items():
        for stat in ("mean", "std", "ci95_low", "ci95_high"):
            assert (math.isnan(m[stat]) and math.isnan(b.metrics[name][stat])) or m[stat] == b.metrics[name][stat]
        assert b.metrics[name]["n"] == m["n"]
    assert (a.feature_set, a.head, a.class_names, a.best_params, a.per_class, a.config, a.fit_times, a.score_times) == (
        b.feature_set, b.head, b.class_names, b.best_params, b.per_class, b.config, b.fit_times, b.score_times)
    assert a.mean() == b.mean() and repr(a) == repr(b)


def _through_json(r: CVResult) -> CVResult:
    text = json.dumps(r.to_record(predictions=True), allow_nan=False)  # strict JSON: NaN became null
    return CVResult.from_record(json.loads(text))


def test_round_trip_with_nan_metrics_probabilities_and_a_nested_search(hard_fs):
    r = cross_validate_head(hard_fs, "logreg", nested=True, grid={"clf__C": [0.1, 1.0]}, folds=3, repeats=2)
    assert r.oof_proba is not None and r.best_params
    _same(r, CVResult.from_record(r.to_record()))
    _same(r, _through_json(r))


def test_round_trip_without_probabilities_and_with_nan_folds():
    # 3 test rows per fold, 3 classes: ROC AUC is NaN on folds missing a class; svm gives no log loss
    fs = blobs(n=9, d=4, k=3, std=3.0)
    splits = [(np.setdiff1d(np.arange(9), te), te) for te in ([0, 1, 3], [2, 4, 5], [6, 7, 8])]
    r = cross_validate_head(fs, "svm", splits=splits)
    assert r.oof_proba is None and math.isnan(r.metrics["log_loss"]["mean"])
    assert any(math.isnan(v) for v in r.metrics["log_loss"]["folds"])
    back = _through_json(r)
    _same(r, back)
    assert back.oof_proba is None and math.isnan(back.metrics["log_loss"]["folds"][0])


def test_round_trip_keeps_train_parts_that_are_not_the_complement(hard_fs):
    folds = make_splitter(hard_fs.y, folds=3, seed=1)
    splits = [(tr[: len(tr) // 2], te) for tr, te in folds]  # half the training rows only
    r = cross_validate_head(hard_fs, "centroid", splits=splits)
    _same(r, _through_json(r))


def test_a_record_without_predictions_is_refused(hard_fs):
    r = cross_validate_head(hard_fs, "centroid", folds=3)
    with pytest.raises(ParameterError, match=r"the record lacks oof_pred, fold_indices; rebuild a CVResult from to_record\(predictions=True\)"):
        CVResult.from_record(r.to_record(predictions=False))
