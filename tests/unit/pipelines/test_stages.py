"""The job's result cache: a CV result, a learning curve and a PCA spectrum come back from it
equal to the computed ones, a damaged entry is recomputed, and nothing but JSON is written."""

from __future__ import annotations

import os

import numpy as np

from featx.classify import FeatureSet, cross_validate_head, make_splitter
from featx.pipelines.stages._stages import ResultCache, cached_cv, cached_explained_variance


def _feature_set(name="fs", seed=0) -> FeatureSet:
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2], 10)
    X = (rng.normal(size=(30, 6)) + y[:, None] * 1.5).astype(np.float32)
    return FeatureSet(name, X, y, ["a", "b", "c"], keys=np.array([f"k{i:02d}" for i in range(30)]), meta={"layer": "x"})


def test_cached_cv_returns_an_equal_result_under_the_current_name(tmp_path):
    cache = ResultCache(str(tmp_path / "cv-cache"))
    fs = _feature_set()
    splits = make_splitter(fs.y, folds=3, seed=0)
    calls = []

    def compute():
        calls.append(1)
        return cross_validate_head(fs, "logreg", nested=True, inner_folds=2, grid={"clf__C": [0.1, 1.0]}, splits=splits,
                                   probability=False)

    first, cached = cached_cv(cache, "k1", fs, compute)
    assert cached is False and len(calls) == 1
    renamed = FeatureSet("renamed", fs.X, fs.y, fs.class_names, keys=fs.keys, meta={"layer": "y"})
    again, cached = cached_cv(cache, "k1", renamed, compute)
    assert cached is True and len(calls) == 1
    assert again.feature_set == "renamed" and again.meta == {"layer": "y"}
    assert again.summary_record() == {**first.summary_record(), "feature_set": "renamed"}
    assert np.array_equal(again.oof_pred, first.oof_pred) and np.array_equal(again.confusion, first.confusion)
    assert all(np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0]) for a, b in zip(again.fold_indices, first.fold_indices))
    assert again.best_params == first.best_params and again.per_class == first.per_class
    assert os.listdir(cache.folder) == ["k1.json"]

    with open(os.path.join(cache.folder, "k1.json"), "w") as fh:
        fh.write('{"v": 2, "head": ')  # a torn write (cannot happen with atomic writes; a damaged disk can)
    third, cached = cached_cv(cache, "k1", fs, compute)
    assert cached is False and len(calls) == 2
    assert third.metrics == first.metrics and np.array_equal(third.oof_pred, first.oof_pred)


def test_cached_pca_spectrum(tmp_path):
    cache = ResultCache(str(tmp_path / "c"))
    fs = _feature_set()
    doc = cached_explained_variance(fs, cache)
    assert doc["dim"] == 6 and abs(doc["cumulative"][-1] - 1.0) < 1e-9
    assert cached_explained_variance(fs, cache) == doc
    other = cached_explained_variance(_feature_set(seed=1), cache)
    assert other != doc and len(os.listdir(cache.folder)) == 2
