"""Learning curves on the CV's folds and PCA spectra, on classify's one metric table."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.classify_synth import blobs
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score

from featx.classify import (
    FeatureSet,
    ParameterError,
    explained_variance,
    learning_curve,
    make_head,
    make_splitter,
    stratified_subset,
)


@pytest.fixture(scope="module")
def fs() -> FeatureSet:
    X, y = make_classification(n_samples=150, n_features=20, n_informative=5, n_classes=3, random_state=0)
    return FeatureSet("f", X, y, ["a", "b", "c"])


def test_stratified_subset_keeps_every_class_and_is_seeded():
    y = np.array([0] * 40 + [1] * 10 + [2] * 2)
    train = np.arange(len(y))
    sub = stratified_subset(train, y, 0.1, np.random.RandomState(0))
    assert np.bincount(y[sub]).tolist() == [4, 1, 1] and np.all(np.diff(sub) > 0)
    assert np.array_equal(sub, stratified_subset(train, y, 0.1, np.random.RandomState(0)))
    assert np.array_equal(stratified_subset(train[::-1], y, 1.0, np.random.RandomState(0)), train)


def test_learning_curve_fits_the_seeded_subsets_of_every_fold(fs):
    splits = make_splitter(fs.y, folds=4, seed=3)
    calls = []
    doc = learning_curve(fs, "logreg", {"clf__C": 0.1}, splits, [0.2, 0.5, 1.0], metric="balanced_accuracy",
                         pca=0.9, seed=3, progress=lambda done, total, label: calls.append((done, total, label)))
    assert set(doc) == {"feature_set", "head", "metric", "params", "n_folds", "fractions", "train_sizes", "train_mean",
                        "train_std", "test_mean", "test_std", "test_scores"}
    assert calls[-1] == (12, 12, "f/logreg") and len(calls) == 12
    # by hand: one RandomState(seed), fold by fold, fraction by fraction
    rng, expected, sizes = np.random.RandomState(3), np.zeros((3, 4)), np.zeros((3, 4))
    for k, (train, test) in enumerate(splits):
        for i, f in enumerate([0.2, 0.5, 1.0]):
            sub = stratified_subset(train, fs.y, f, rng)
            est = make_head("logreg", pca=0.9, random_state=3).set_params(clf__C=0.1).fit(fs.X[sub], fs.y[sub])
            expected[i, k] = balanced_accuracy_score(fs.y[test], est.predict(fs.X[test]))
            sizes[i, k] = len(sub)
    assert np.allclose(doc["test_scores"], expected)
    assert doc["test_mean"] == pytest.approx(expected.mean(axis=1).tolist())
    assert doc["train_sizes"] == pytest.approx(sizes.mean(axis=1).tolist())
    assert doc["train_sizes"][0] < doc["train_sizes"][-1] and doc["n_folds"] == 4


def test_learning_curve_scores_log_loss_lower_is_better_and_nan_without_probabilities(fs):
    splits = make_splitter(fs.y, folds=3, seed=0)
    ll = learning_curve(fs, "logreg", {}, splits, [0.3, 1.0], metric="log_loss")
    assert all(v > 0 for v in ll["test_mean"])  # the loss itself, not its negative
    svm = learning_curve(fs, "svm", {}, splits, [1.0], metric="log_loss")
    assert np.isnan(svm["test_mean"][0])
    with pytest.raises(ParameterError, match=r"fractions must be numbers in \(0, 1\]"):
        learning_curve(fs, "logreg", {}, splits, [0.0, 1.5], metric="accuracy")
    with pytest.raises(ParameterError, match=r"unknown metric 'acc'"):
        learning_curve(fs, "logreg", {}, splits, [1.0], metric="acc")


def test_explained_variance_of_a_low_rank_feature_set():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3) @ rng.randn(3, 40) + 1e-3 * rng.randn(80, 40)  # rank 3 + tiny noise
    fs = FeatureSet("low-rank", X, np.arange(80) % 2, ["a", "b"])
    doc = explained_variance(fs)
    assert doc["dim"] == 40 and doc["n_samples"] == 80 and len(doc["ratio"]) == 40
    assert doc["components_for"]["0.99"] == 3 and doc["cumulative"][2] > 0.999
    assert np.all(np.diff(doc["ratio"]) <= 1e-12)
    assert explained_variance(blobs(n=30, d=600))["cumulative"][-1] == pytest.approx(1.0)
    assert len(explained_variance(blobs(n=30, d=600))["ratio"]) == 30
