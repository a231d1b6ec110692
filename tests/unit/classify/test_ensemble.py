"""Soft voting and stacking across feature sets of the same images, matched by keys."""

from __future__ import annotations

import numpy as np
import pytest

from featx.classify import AlignmentError, FeatureSet, ParameterError, compare, ensemble_cv


def complementary(n_per=30, seed=0):
    """4 classes = two binary factors; set 'a' only sees the first factor, set 'b' only the second."""
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(4), n_per)
    f1, f2 = y // 2, y % 2
    Xa = rng.randn(y.size, 6) + 3.0 * f1[:, None]
    Xb = rng.randn(y.size, 6) + 3.0 * f2[:, None]
    keys = np.array([f"img{i:03d}" for i in range(y.size)])
    names = ["00", "01", "10", "11"]
    return (FeatureSet("a", Xa, y, names, keys=keys, meta={"layer": "a"}),
            FeatureSet("b", Xb, y, names, keys=keys, meta={"layer": "b"}))


@pytest.mark.parametrize("method", ["soft", "stacking"])
def test_ensemble_beats_its_members_on_complementary_sets(method):
    a, b = complementary()
    members = compare([a, b], ["logreg"], folds=4)
    worst = min(r.mean() for r in members)
    best = max(r.mean() for r in members)
    assert best < 0.65  # each set alone only sees half of the label
    ens = ensemble_cv([a, b], "logreg", method=method, folds=4)
    assert ens.mean() >= worst
    assert ens.mean() > best + 0.25, (ens, members.results)
    # evaluated on the same folds as the members
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(ens.fold_indices, members.results[0].fold_indices))
    assert ens.head == f"{method}(logreg@a, logreg@b)" and ens.feature_set == "a+b"
    assert ens.meta["members"] == {"a": {"layer": "a"}, "b": {"layer": "b"}}


def test_rows_are_matched_by_keys():
    a, b = complementary(n_per=20, seed=1)
    perm = np.random.RandomState(3).permutation(b.n_samples)
    b_shuffled = b.subset(perm)
    straight = ensemble_cv([a, b], ["logreg", "centroid"], method="soft", folds=3)
    matched = ensemble_cv([a, b_shuffled], ["logreg", "centroid"], method="soft", folds=3)
    assert matched.metrics["balanced_accuracy"]["folds"] == straight.metrics["balanced_accuracy"]["folds"]
    np.testing.assert_array_equal(matched.oof_pred, straight.oof_pred)


def test_heads_per_feature_set_and_calibrated_members():
    a, b = complementary(n_per=30, seed=2)
    r = ensemble_cv([a, b], {"a": "svm", "b": ["ridge", "xgb"]}, method="soft", folds=3, weights=[2, 1, 1])
    assert r.head == "soft(svm@a, ridge@b, xgb@b)" and r.config["weights"] == [2, 1, 1]
    assert r.mean() > 0.65 and r.oof_proba is not None  # members alone are at most ~0.5 in expectation
    np.testing.assert_allclose(r.oof_proba[0].sum(axis=1), 1.0, rtol=1e-6)


def test_different_images_refused():
    a, b = complementary(n_per=10)
    other = FeatureSet("c", b.X, b.y, b.class_names, keys=np.array([f"other{i}" for i in range(b.n_samples)]))
    with pytest.raises(AlignmentError, match=r"'a' and 'c' describe different images \(40 keys only in the first"):
        ensemble_cv([a, other], "logreg")


def test_bad_ensemble_arguments():
    a, b = complementary(n_per=10)
    with pytest.raises(ParameterError, match=r"unknown ensemble method 'stack'; did you mean 'stacking'\?"):
        ensemble_cv([a, b], "logreg", method="stack")
    with pytest.raises(ParameterError, match=r"an ensemble needs at least 2 members, got 1"):
        ensemble_cv([a], "logreg")
    with pytest.raises(ParameterError, match=r"heads gives no head for feature sets \['b'\]"):
        ensemble_cv([a, b], {"a": "logreg"})
    with pytest.raises(ParameterError, match=r"weights need method='soft' and one value per member \(2\)"):
        ensemble_cv([a, b], "logreg", weights=[1.0])
