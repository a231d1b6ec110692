"""Head factory, our own estimators and their scikit-learn API compliance."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.classify_synth import blobs
from sklearn.decomposition import PCA
from sklearn.utils.estimator_checks import parametrize_with_checks

from featx.classify import (
    HEADS,
    ColumnSlice,
    NearestCentroidL2,
    ParameterError,
    ReencodedXGBClassifier,
    UnknownHeadError,
    cross_validate_head,
    make_head,
)


@parametrize_with_checks([NearestCentroidL2(), ReencodedXGBClassifier(n_estimators=5), ColumnSlice(start=1, stop=None)])
def test_sklearn_estimator_api(estimator, check):
    check(estimator)


@pytest.mark.parametrize("head", HEADS)
def test_every_head_separates_blobs(head):
    fs = blobs(n=90, d=12, k=3, seed=3)
    result = cross_validate_head(fs, head, pca=0.95, folds=3)
    assert result.mean("balanced_accuracy") >= 0.9, result


def test_pipeline_steps_and_pca_variants():
    for off in (None, 0, "off", False):
        assert make_head("logreg", pca=off).named_steps["pca"] == "passthrough"
    pipe = make_head("rf", pca=0.9, whiten=True, random_state=7, n_jobs=2, max_depth=3)
    assert [name for name, _ in pipe.steps] == ["scale", "pca", "clf"]
    assert isinstance(pipe.named_steps["pca"], PCA)
    assert pipe.get_params()["pca__n_components"] == 0.9 and pipe.get_params()["pca__whiten"] is True
    assert pipe.get_params()["clf__max_depth"] == 3 and pipe.get_params()["clf__n_jobs"] == 2
    assert make_head("svm", pca=16).get_params()["pca__n_components"] == 16


def test_pca_components_fitted_per_variance_fraction():
    fs = blobs(n=60, d=20, k=3)
    pipe = make_head("logreg", pca=0.5).fit(fs.X, fs.y)
    n90 = make_head("logreg", pca=0.99).fit(fs.X, fs.y).named_steps["pca"].n_components_
    assert 1 <= pipe.named_steps["pca"].n_components_ < n90


@pytest.mark.parametrize("bad", [-1, 1.5, "half", 0.0 + 1j, True])
def test_bad_pca_value(bad):
    with pytest.raises(ParameterError, match=r"pca must be an int >= 1 \(components\), a float in \(0, 1\)"):
        make_head("logreg", pca=bad)


def test_unknown_head_suggests_close_match():
    with pytest.raises(UnknownHeadError, match=r"unknown head 'lgreg'; did you mean 'logreg'\? choose from: centroid, knn, logreg"):
        make_head("lgreg")
    with pytest.raises(UnknownHeadError, match=r"unknown head 'zzz'; choose from: centroid"):
        make_head("zzz")


def test_unknown_classifier_parameter():
    with pytest.raises(ParameterError, match=r"unknown parameter of head 'logreg': 'CC'; did you mean 'C'\?"):
        make_head("logreg", CC=1.0)


def test_probability_adds_predict_proba():
    fs = blobs(n=60, d=8, k=3)
    for head in ("svm", "svm_rbf", "ridge"):
        assert not hasattr(make_head(head).fit(fs.X, fs.y), "predict_proba") or head == "svm_rbf"
        proba = make_head(head, probability=True).fit(fs.X, fs.y).predict_proba(fs.X)
        assert proba.shape == (60, 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_centroid_ignores_row_scale():
    fs = blobs(n=60, d=8, k=3)
    clf = NearestCentroidL2().fit(fs.X, fs.y)
    scale = np.random.RandomState(0).uniform(0.1, 10, size=(60, 1))
    np.testing.assert_array_equal(clf.predict(fs.X), clf.predict(fs.X * scale))
    # prototypes are unit vectors
    np.testing.assert_allclose(np.linalg.norm(clf.centroids_, axis=1), 1.0, rtol=1e-6)


def test_centroid_bad_temperature():
    with pytest.raises(ParameterError, match=r"'temperature' parameter of NearestCentroidL2 must be a float > 0\. Got -1"):
        NearestCentroidL2(temperature=-1).fit(np.ones((4, 2)), [0, 1, 0, 1])


def test_xgb_training_rows_missing_a_class_answer_in_global_space():
    fs = blobs(n=90, d=6, k=3, seed=1)
    train = fs.y != 1
    clf = ReencodedXGBClassifier(n_estimators=20, classes=[0, 1, 2]).fit(fs.X[train], fs.y[train])
    proba = clf.predict_proba(fs.X)
    assert proba.shape == (90, 3)
    assert np.all(proba[:, 1] == 0.0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(fs.X)) <= {0, 2}
    assert (clf.predict(fs.X[train]) == fs.y[train]).mean() > 0.95


def test_xgb_single_class_is_constant_and_unknown_label_refused():
    clf = ReencodedXGBClassifier(classes=[0, 1, 2]).fit(np.random.randn(5, 3), [2] * 5)
    assert clf.predict(np.zeros((2, 3))).tolist() == [2, 2]
    assert clf.predict_proba(np.zeros((1, 3))).tolist() == [[0.0, 0.0, 1.0]]
    with pytest.raises(ParameterError, match=r"labels \[5\] are not in classes=\[0, 1, 2\]"):
        ReencodedXGBClassifier(classes=[0, 1, 2]).fit(np.random.randn(4, 3), [0, 5, 0, 5])


def test_xgb_bad_device():
    with pytest.raises(ParameterError, match=r"'device' parameter of the xgb head must be one of 'auto', 'cpu', 'cuda'\. Got 'tpu'"):
        ReencodedXGBClassifier(device="tpu").fit(np.random.randn(4, 3), [0, 1, 0, 1])


def test_xgb_cv_with_a_training_fold_missing_a_class():
    fs = blobs(n=60, d=6, k=3, seed=2)
    idx = np.arange(60)
    no_class2 = idx[fs.y != 2]
    # fold 0 trains without class 2 but tests on some of it; fold 1 is an ordinary split
    splits = [(no_class2[:30], np.setdiff1d(idx, no_class2[:30])), (idx[::2], idx[1::2])]
    result = cross_validate_head(fs, "xgb", splits=splits)
    assert result.confusion.shape == (3, 3)
    fold0_pred = result.oof_pred[0][splits[0][1]]
    assert 2 not in set(fold0_pred)  # never predicts a class it has not seen
    assert result.metrics["balanced_accuracy"]["folds"][1] > 0.9
    assert np.isfinite(result.metrics["log_loss"]["folds"]).all()
