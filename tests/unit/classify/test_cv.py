"""Cross-validation: no leakage, honest nested CV, paired and reproducible folds, metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers.classify_synth import blobs, noise
from scipy.stats import loguniform
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score

from featx.classify import (
    PCA_GRID,
    ClassifyWarning,
    FeatureSet,
    FeatureSetError,
    GridError,
    ParameterError,
    cross_validate_head,
    make_head,
)
from featx.classify._metrics import summarise


def test_shuffled_labels_stay_at_chance_with_pca_in_the_pipeline():
    X, y = make_classification(n_samples=200, n_features=500, n_informative=20, n_redundant=80, class_sep=2.0, random_state=0)
    y_shuffled = np.random.RandomState(1).permutation(y)
    fs = FeatureSet("shuffled", X, y_shuffled, ["a", "b"])
    # positive control: the same pipeline memorises these labels when scored on its training rows
    pipe = make_head("logreg", pca=0.9).fit(fs.X, fs.y)
    assert balanced_accuracy_score(fs.y, pipe.predict(fs.X)) > 0.95
    plain = cross_validate_head(fs, "logreg", pca=0.9)
    nested = cross_validate_head(fs, "logreg", pca="search", nested=True, grid={"clf__C": [0.01, 1.0]})
    assert plain.mean() < 0.65, plain
    assert nested.mean() < 0.65, nested
    # and the true labels are learnable with the same settings
    assert cross_validate_head(FeatureSet("real", X, y, ["a", "b"]), "logreg", pca=0.9).mean() > 0.75


def test_nested_cv_is_not_more_optimistic_than_best_of_grid_on_noise():
    grid = [1, 3, 5, 9, 15]
    nested_scores, best_of_grid = [], []
    for seed in range(3):
        fs = noise(n=60, d=30, seed=seed)
        per_k = [cross_validate_head(fs, "knn", seed=seed, head_params={"n_neighbors": k, "weights": "uniform"}).mean()
                 for k in grid]
        best_of_grid.append(max(per_k))
        nested = cross_validate_head(fs, "knn", seed=seed, nested=True,
                                     grid={"clf__n_neighbors": grid, "clf__weights": ["uniform"]})
        nested_scores.append(nested.mean())
    assert np.mean(nested_scores) <= np.mean(best_of_grid)
    assert np.mean(best_of_grid) > 0.55  # the selection bias that nested CV avoids
    assert abs(np.mean(nested_scores) - 0.5) < 0.1


def test_same_seed_same_scores_and_every_head_gets_the_same_folds(hard_fs):
    a = cross_validate_head(hard_fs, "logreg", seed=5)
    b = cross_validate_head(hard_fs, "logreg", seed=5)
    c = cross_validate_head(hard_fs, "knn", seed=5)
    d = cross_validate_head(hard_fs, "logreg", seed=6)
    assert a.metrics["balanced_accuracy"]["folds"] == b.metrics["balanced_accuracy"]["folds"]
    np.testing.assert_array_equal(a.oof_pred, b.oof_pred)
    for (tr1, te1), (tr2, te2) in zip(a.fold_indices, c.fold_indices):
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(tr1, tr2)
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a.fold_indices, d.fold_indices))


def test_parallel_folds_give_the_same_scores(hard_fs):
    one = cross_validate_head(hard_fs, "rf", head_params={"n_estimators": 30}, jobs=1)
    two = cross_validate_head(hard_fs, "rf", head_params={"n_estimators": 30}, jobs=2)
    assert one.metrics["balanced_accuracy"]["folds"] == two.metrics["balanced_accuracy"]["folds"]
    np.testing.assert_array_equal(one.oof_pred, two.oof_pred)


def test_metrics_agree_with_out_of_fold_predictions(hard_fs):
    r = cross_validate_head(hard_fs, "logreg", folds=4)
    assert r.oof_pred.shape == (1, hard_fs.n_samples) and (r.oof_pred >= 0).all()
    for k, (_, test) in enumerate(r.fold_indices):
        acc = np.mean(r.oof_pred[0, test] == hard_fs.y[test])
        assert r.metrics["accuracy"]["folds"][k] == pytest.approx(acc)
    assert r.confusion.sum() == hard_fs.n_samples
    assert r.confusion.sum(axis=1).tolist() == np.bincount(hard_fs.y).tolist()
    assert np.trace(r.confusion) == np.sum(r.oof_pred[0] == hard_fs.y)
    assert [r.per_class[c]["support"] for c in hard_fs.class_names] == np.bincount(hard_fs.y).tolist()
    recall_bee = r.confusion[1, 1] / r.confusion[1].sum()
    assert r.per_class["bee"]["recall"] == pytest.approx(recall_bee)
    for name, m in r.metrics.items():
        assert len(m["folds"]) == 4
        assert m["ci95_low"] <= m["mean"] <= m["ci95_high"], name
    assert 0.5 < r.metrics["roc_auc"]["mean"] <= 1.0
    assert r.metrics["log_loss"]["mean"] > 0


def test_t_interval_and_nan_folds():
    s = summarise([0.8, 0.9, 1.0, math.nan])
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.9) and s["std"] == pytest.approx(0.1)
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t(0.975, df=2)
    assert (s["ci95_low"], s["ci95_high"]) == (pytest.approx(0.9 - half), pytest.approx(0.9 + half))
    assert len(s["folds"]) == 4 and math.isnan(s["folds"][3])
    clipped = summarise([0.8, 0.9, 1.0], bounds=(0.0, 1.0))
    assert clipped["ci95_high"] == 1.0 and clipped["ci95_low"] == pytest.approx(0.9 - half)


def test_roc_auc_skipped_on_folds_missing_a_class():
    fs = blobs(n=60, d=6, k=3, seed=4)
    idx = np.arange(60)
    only01 = idx[fs.y != 2][:10]
    splits = [(np.setdiff1d(idx, only01), only01), (idx[::2], idx[1::2])]
    r = cross_validate_head(fs, "logreg", splits=splits)
    assert math.isnan(r.metrics["roc_auc"]["folds"][0])
    assert not math.isnan(r.metrics["roc_auc"]["folds"][1])
    assert r.metrics["roc_auc"]["n"] == 1 and r.metrics["roc_auc"]["mean"] == r.metrics["roc_auc"]["folds"][1]
    assert (r.oof_pred[0][np.setdiff1d(idx, np.concatenate([only01, idx[1::2]]))] == -1).all()


def test_log_loss_needs_probabilities(hard_fs):
    plain = cross_validate_head(hard_fs, "svm")
    assert math.isnan(plain.metrics["log_loss"]["mean"]) and plain.oof_proba is None
    assert plain.metrics["roc_auc"]["mean"] > 0.5  # from decision_function
    calibrated = cross_validate_head(hard_fs, "svm", probability=True)
    assert 0 < calibrated.metrics["log_loss"]["mean"] < 1.0
    np.testing.assert_allclose(calibrated.oof_proba[0].sum(axis=1), 1.0, rtol=1e-6)


def test_nested_reports_chosen_parameters_per_outer_fold(hard_fs):
    grid = {"clf__C": [0.01, 1.0]}
    r = cross_validate_head(hard_fs, "logreg", pca="search", nested=True, folds=4, grid=grid)
    assert len(r.best_params) == 4
    for params in r.best_params:
        assert set(params) == {"clf__C", "pca__n_components"}
        assert params["clf__C"] in grid["clf__C"] and params["pca__n_components"] in PCA_GRID
    assert r.config["grid"] == {"clf__C": [0.01, 1.0], "pca__n_components": PCA_GRID}
    assert cross_validate_head(hard_fs, "logreg").best_params == []


def test_head_params_are_not_searched_unless_the_grid_asks(hard_fs):
    r = cross_validate_head(hard_fs, "logreg", pca="search", nested=True, folds=3, head_params={"C": 0.5})
    assert all(set(p) == {"pca__n_components"} for p in r.best_params)
    r = cross_validate_head(hard_fs, "svm", nested=True, folds=3, probability=True, head_params={"C": 0.5})
    assert r.best_params == [{}, {}, {}] and r.config["grid"] == {}


def test_random_search(hard_fs):
    r = cross_validate_head(hard_fs, "knn", nested=True, search="random", n_iter=2, folds=3, seed=1)
    grid = {"clf__n_neighbors": [3, 7, 15], "clf__weights": ["uniform", "distance"]}
    for params in r.best_params:
        assert set(params) == set(grid) and all(params[k] in grid[k] for k in grid)
    assert r.config["n_iter"] == 2


def test_grouped_cv_keeps_groups_apart_also_in_the_inner_search():
    fs0 = blobs(n=96, d=6, k=2, seed=5)
    groups = np.arange(96) // 4  # 24 groups of 4 rows
    fs = FeatureSet("g", fs0.X, fs0.y, fs0.class_names, groups=groups)
    r = cross_validate_head(fs, "logreg", nested=True, folds=4, grid={"clf__C": [0.1, 1.0]})
    for train, test in r.fold_indices:
        assert np.intersect1d(groups[train], groups[test]).size == 0
    assert r.config["groups"] is True and r.mean() > 0.9


def test_repeats(hard_fs):
    r = cross_validate_head(hard_fs, "centroid", folds=3, repeats=2)
    assert r.oof_pred.shape == (2, hard_fs.n_samples) and (r.oof_pred >= 0).all()
    assert r.n_folds == 6 and len(r.metrics["accuracy"]["folds"]) == 6
    assert r.confusion.sum() == 2 * hard_fs.n_samples


def test_fold_cap_warns_through_cv():
    fs = blobs(n=24, d=4, k=2)
    fs = fs.subset(np.concatenate([np.flatnonzero(fs.y == 0), np.flatnonzero(fs.y == 1)[:3]]))
    with pytest.warns(ClassifyWarning, match=r"folds capped from 5 to 3"):
        r = cross_validate_head(fs, "centroid", folds=5)
    assert r.n_folds == 3


def test_to_record_is_json(hard_fs):
    r = cross_validate_head(hard_fs, "svm", nested=True, folds=3, grid={"clf__C": [0.01, 0.1]})
    rec = r.to_record()
    text = json.dumps(rec, allow_nan=False)  # NaN log_loss became null
    back = json.loads(text)
    assert back["metrics"]["log_loss"]["mean"] is None
    assert back["metrics"]["balanced_accuracy"]["folds"] == r.metrics["balanced_accuracy"]["folds"]
    assert back["meta"]["layer"] == "blocks.6" and back["class_names"] == ["ant", "bee"]
    assert len(back["oof_pred"][0]) == hard_fs.n_samples and len(back["fold_test_indices"]) == 3
    assert back["confusion"] == r.confusion.tolist()
    assert "oof_pred" not in r.to_record(predictions=False)


@pytest.mark.parametrize(
    "kwargs, error, msg",
    [
        ({"pca": "search"}, ParameterError, r"pca='search' needs nested=True"),
        ({"grid": {"clf__C": [1]}}, ParameterError, r"a grid is only used by a search: pass nested=True"),
        ({"nested": True, "search": "rand"}, ParameterError, r"unknown search 'rand'; did you mean 'random'\?"),
        ({"jobs": 0}, ParameterError, r"jobs must be an int >= 1 or -1"),
        ({"n_iter": 0}, ParameterError, r"n_iter must be an int >= 1; got 0"),
        ({"nested": True, "grid": {"clf__Cc": [1]}}, GridError, r"unknown grid key for head 'logreg': 'clf__Cc'"),
        ({"folds": 1}, ParameterError, r"folds must be an int >= 2"),
        ({"nested": True, "grid": {"clf__C": [-1.0]}}, GridError,
         r"every candidate of the grid failed on an outer training fold of 96 rows .*'C' parameter of LogisticRegression"),
        ({"nested": True, "search": "grid", "grid": {"clf__C": loguniform(0.01, 1)}},
         GridError, r"grid key 'clf__C' holds a distribution, which needs search='random'"),
    ],
)
def test_bad_arguments(hard_fs, kwargs, error, msg):
    with pytest.raises(error, match=msg):
        cross_validate_head(hard_fs, "logreg", **kwargs)


def test_unlabelled_rows_and_non_feature_sets_refused(hard_fs):
    y = hard_fs.y.copy()
    y[0] = -1
    with pytest.raises(FeatureSetError, match=r"1 of 120 rows are unlabelled"):
        cross_validate_head(FeatureSet("u", hard_fs.X, y, hard_fs.class_names), "logreg")
    with pytest.raises(ParameterError, match=r"expected a FeatureSet, got ndarray"):
        cross_validate_head(hard_fs.X, "logreg")
