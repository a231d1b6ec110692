"""Timing budget: nested 5x3 CV of logreg, svm, rf and xgb with PCA on 400 x 1280 features < 3 min on 2 cores."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.datasets import make_classification

from featx.classify import FeatureSet, compare


@pytest.mark.slow
def test_nested_5x3_cv_of_four_heads_within_three_minutes():
    X, y = make_classification(n_samples=400, n_features=1280, n_informative=60, n_redundant=100, random_state=0)
    fs = FeatureSet("synthetic-400x1280", X.astype(np.float32), y, ["ants", "bees"])
    laps = {}
    start = time.perf_counter()

    def lap(done, total, label):
        laps[label] = round(time.perf_counter() - start, 1)

    cmp = compare([fs], ["logreg", "svm", "rf", "xgb"], pca=0.95, folds=5, nested=True, inner_folds=3, jobs=2, progress=lap)
    total = time.perf_counter() - start
    print(f"\nnested 5x3 CV, 4 heads, 400x1280, pca=0.95, jobs=2: {total:.1f}s (cumulative laps {laps})")
    print(cmp.table())
    assert all(len(r.best_params) == 5 for r in cmp.results)
    assert total < 180, f"{total:.0f}s"
