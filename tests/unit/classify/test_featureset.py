"""FeatureSet validation and row alignment."""

from __future__ import annotations

import numpy as np
import pytest

from featx.classify import AlignmentError, ClassifyError, FeatureSet, FeatureSetError, align_feature_sets


def _fs(X=None, y=None, names=("a", "b"), **kw):
    rng = np.random.RandomState(0)
    X = rng.randn(10, 4) if X is None else X
    y = np.arange(10) % 2 if y is None else y
    return FeatureSet("f", X, y, list(names), **kw)


def test_converts_to_float32_and_int64():
    fs = _fs(X=np.arange(40, dtype=np.float64).reshape(10, 4), y=(np.arange(10) % 2).astype(np.int8))
    assert fs.X.dtype == np.float32 and fs.X.flags["C_CONTIGUOUS"]
    assert fs.y.dtype == np.int64
    assert (fs.n_samples, fs.n_features, fs.n_classes) == (10, 4, 2)


def test_empty_features_refused():
    with pytest.raises(FeatureSetError, match=r"is empty \(X shape \(0, 4\)\)"):
        _fs(X=np.zeros((0, 4)), y=np.zeros(0, dtype=int))


def test_nan_rows_counted_and_fix_suggested():
    X = np.random.RandomState(0).randn(10, 4)
    X[3, 1] = np.nan
    X[7, 0] = np.inf
    with pytest.raises(FeatureSetError, match=r"2 of 10 rows contain NaN or inf \(first at row 3\); re-extract with --dtype float32 or drop"):
        _fs(X=X)


def test_errors_are_classify_errors_and_builtins():
    with pytest.raises(ClassifyError):
        _fs(X=np.zeros((0, 4)), y=np.zeros(0, dtype=int))
    with pytest.raises(ValueError):
        _fs(X=np.zeros((0, 4)), y=np.zeros(0, dtype=int))


def test_one_class_refused_at_use():
    fs = _fs(y=np.zeros(10, dtype=int))
    with pytest.raises(FeatureSetError, match=r"one class only \('a', 10 rows\)"):
        fs.check_labelled()


def test_class_with_one_sample_refused():
    y = np.array([0] * 9 + [1])
    with pytest.raises(FeatureSetError, match=r"class 'b' \(1\) has fewer than 2 samples"):
        _fs(y=y).check_labelled()


def test_unlabelled_rows_refused_with_cv_hint():
    y = np.arange(10) % 2
    y[:3] = -1
    fs = _fs(y=y)  # allowed to exist (e.g. images to predict)
    with pytest.raises(FeatureSetError, match=r"3 of 10 rows are unlabelled .*cross-validation and fitting need labels"):
        fs.check_labelled()


def test_label_outside_class_names_refused():
    with pytest.raises(FeatureSetError, match=r"label 2 is outside 0..1"):
        _fs(y=np.arange(10) % 3)


def test_string_labels_point_to_from_labels():
    with pytest.raises(FeatureSetError, match=r"FeatureSet.from_labels"):
        _fs(y=np.array(["a", "b"] * 5))
    fs = FeatureSet.from_labels("f", np.ones((4, 2)), ["bee", "ant", "bee", "ant"])
    assert fs.class_names == ["ant", "bee"] and fs.y.tolist() == [1, 0, 1, 0]


def test_shapes_checked():
    with pytest.raises(FeatureSetError, match=r"X must be 2-D"):
        _fs(X=np.ones(10))
    with pytest.raises(FeatureSetError, match=r"y must be 1-D with one label per row \(10\)"):
        _fs(y=np.zeros(9, dtype=int))
    with pytest.raises(FeatureSetError, match=r"groups must be 1-D with one entry per row"):
        _fs(groups=np.arange(3))
    with pytest.raises(FeatureSetError, match=r"duplicate keys"):
        _fs(keys=np.array(["k"] * 10))
    with pytest.raises(FeatureSetError, match=r"duplicate class names \['a'\]"):
        _fs(names=("a", "a"))


def test_align_reorders_by_keys():
    rng = np.random.RandomState(0)
    X = rng.randn(10, 3)
    y = np.arange(10) % 2
    keys = np.array([f"k{i}" for i in range(10)])
    a = FeatureSet("a", X, y, ["x", "y"], keys=keys)
    perm = rng.permutation(10)
    b = FeatureSet("b", X[perm] * 2, y[perm], ["x", "y"], keys=keys[perm])
    a2, b2 = align_feature_sets([a, b])
    assert a2 is a
    np.testing.assert_array_equal(b2.keys, keys)
    np.testing.assert_allclose(b2.X, a.X * 2, rtol=1e-6)


def test_align_refuses_different_images():
    y = np.arange(6) % 2
    a = FeatureSet("a", np.ones((6, 2)), y, ["x", "y"], keys=np.arange(6))
    b = FeatureSet("b", np.ones((6, 2)), y, ["x", "y"], keys=np.arange(1, 7))
    with pytest.raises(AlignmentError, match=r"describe different images \(1 keys only in the first, 1 only in the second\)"):
        align_feature_sets([a, b])
    c = FeatureSet("c", np.ones((6, 2)), y, ["x", "y"])
    with pytest.raises(AlignmentError, match=r"have no keys"):
        align_feature_sets([a, c])
