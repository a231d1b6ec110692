"""Your own scikit-learn classifiers and Pipelines beside featx's head names in cv and compare."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from featx.classify import GridError, ParameterError, UnknownHeadError, compare, cross_validate_head, make_splitter


def _pipe():
    return make_pipeline(StandardScaler(), PCA(n_components=5, random_state=0), LogisticRegression(max_iter=500))


def test_a_pipeline_is_cross_validated_on_the_same_folds_as_named_heads(hard_fs):
    mine = _pipe()
    cmp = compare(hard_fs, ["logreg", ("scaled-pca-logreg", mine), KNeighborsClassifier(3)], folds=4, pca=0.9, whiten=True)
    assert [r.head for r in cmp] == ["logreg", "scaled-pca-logreg", "KNeighborsClassifier"]
    assert not hasattr(mine, "classes_")  # cloned per fold, the given object is never fitted
    r = cmp.get("hard", "scaled-pca-logreg")
    assert r.mean() > 0.6 and r.oof_proba is not None and (r.oof_pred >= 0).all()
    assert r.config["estimator"].startswith("Pipeline(") and r.config["pca"] is None  # named-head settings not applied
    assert cmp.get("hard", "logreg").config["pca"] == 0.9
    for a, b in zip(cmp.get("hard", "logreg").fold_indices, r.fold_indices):
        assert np.array_equal(a[1], b[1])
    # the same numbers as the folds fitted by hand
    manual = []
    for train, test in make_splitter(hard_fs.y, folds=4, seed=0):
        pred = _pipe().fit(hard_fs.X[train], hard_fs.y[train]).predict(hard_fs.X[test])
        manual.append(np.mean(pred == hard_fs.y[test]))
    assert r.metrics["accuracy"]["folds"] == pytest.approx(manual)


def test_an_unlabelled_pipeline_is_named_by_its_steps(hard_fs):
    r = cross_validate_head(hard_fs, _pipe(), folds=3)
    assert r.head == "Pipeline(standardscaler, pca, logisticregression)"
    assert r.best_params == []


def test_nested_search_of_your_own_pipeline_uses_your_grid(hard_fs):
    grid = {"pca__n_components": [2, 10], "logisticregression__C": [0.01, 1.0]}
    r = cross_validate_head(hard_fs, ("mine", _pipe()), nested=True, grid=grid, folds=3)
    assert len(r.best_params) == 3 and all(set(p) == set(grid) for p in r.best_params)
    assert r.config["grid"] == grid and r.config["search_metric"] == "balanced_accuracy"
    # nested without a grid: no search (there is no default grid for your estimator), plain fits
    plain = cross_validate_head(hard_fs, ("mine", _pipe()), nested=True, folds=3)
    assert plain.best_params == [{}, {}, {}]
    cmp = compare(hard_fs, ["logreg", ("mine", _pipe())], nested=True, folds=3,
                  grids={"mine": {"logisticregression__C": [0.01, 1.0]}, "logreg": {"clf__C": [0.1]}})
    assert set(cmp.get("hard", "mine").best_params[0]) == {"logisticregression__C"}
    assert "clf__C" in cmp.get("hard", "logreg").best_params[0]


def test_your_estimator_is_checked_before_any_fit(hard_fs):
    with pytest.raises(GridError, match=r"unknown grid key for head 'mine': 'C'; did you mean"):
        cross_validate_head(hard_fs, ("mine", _pipe()), nested=True, grid={"C": [1.0]})
    with pytest.raises(ParameterError, match=r"pca, head_params configure featx's named heads, not your estimator 'mine'"):
        cross_validate_head(hard_fs, ("mine", _pipe()), pca=0.9, head_params={"C": 1})
    with pytest.raises(UnknownHeadError, match=r"a head must be a name .*, a scikit-learn classifier instance or a \(label, classifier\) pair"):
        cross_validate_head(hard_fs, LogisticRegression)  # the class, not an instance
    with pytest.raises(UnknownHeadError, match=r"a head must be a name"):
        compare(hard_fs, ["logreg", StandardScaler()])  # not a classifier
    with pytest.raises(ParameterError, match=r"repeat a name"):
        compare(hard_fs, [("logreg", _pipe()), "logreg"])
    with pytest.raises(ParameterError, match=r"unknown head in grids 'other'"):
        compare(hard_fs, [("mine", _pipe())], nested=True, grids={"other": {}})
