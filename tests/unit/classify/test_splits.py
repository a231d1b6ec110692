"""Seeded, stratified, grouped splits: identical for every head, groups never straddle folds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featx.classify import ClassifyWarning, ParameterError, SplitError, make_splitter
from featx.classify.cv._splits import check_splits


def _y(counts):
    return np.repeat(np.arange(len(counts)), counts)


def test_same_seed_same_splits_other_seed_other_splits():
    y = _y([30, 20, 10])
    a = make_splitter(y, seed=3)
    b = make_splitter(y, seed=3)
    c = make_splitter(y, seed=4)
    assert all(np.array_equal(x[1], z[1]) for x, z in zip(a, b))
    assert any(not np.array_equal(x[1], z[1]) for x, z in zip(a, c))


def test_stratified_partition():
    y = _y([30, 20, 10])
    splits = make_splitter(y, folds=5)
    tests = np.concatenate([te for _, te in splits])
    assert sorted(tests.tolist()) == list(range(60))  # every row tested exactly once
    for train, test in splits:
        assert np.intersect1d(train, test).size == 0
        assert np.bincount(y[test], minlength=3).tolist() == [6, 4, 2]


def test_repeats_cover_every_row_once_per_repeat():
    y = _y([12, 12])
    splits = make_splitter(y, folds=3, repeats=2, seed=1)
    assert len(splits) == 6
    for r in range(2):
        tests = np.concatenate([te for _, te in splits[3 * r : 3 * r + 3]])
        assert sorted(tests.tolist()) == list(range(24))
    assert not np.array_equal(splits[0][1], splits[3][1])


def test_folds_capped_at_smallest_class_with_warning():
    y = _y([20, 3])
    with pytest.warns(ClassifyWarning, match=r"folds capped from 5 to 3 because the smallest class \('b'\) has 3 samples"):
        splits = make_splitter(y, folds=5, class_names=["a", "b"])
    assert len(splits) == 3


def test_no_warning_when_folds_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_splitter(_y([10, 10]), folds=5)


def test_class_with_one_sample_refused():
    with pytest.raises(SplitError, match=r"class 'b' has 1 sample; cross-validation needs at least 2 per class"):
        make_splitter(_y([10, 1]), class_names=["a", "b"])


def test_one_class_and_unlabelled_refused():
    with pytest.raises(SplitError, match=r"one class only"):
        make_splitter(np.zeros(10, dtype=int))
    with pytest.raises(SplitError, match=r"2 rows are unlabelled \(y < 0\); cross-validation needs labels"):
        make_splitter(np.array([0, 1, 0, 1, -1, -1]))


@pytest.mark.parametrize("kw, msg", [({"folds": 1}, r"folds must be an int >= 2; got 1"),
                                     ({"repeats": 0}, r"repeats must be an int >= 1; got 0"),
                                     ({"seed": -2}, r"seed must be an int >= 0; got -2")])
def test_bad_parameters(kw, msg):
    with pytest.raises(ParameterError, match=msg):
        make_splitter(_y([5, 5]), **kw)


@settings(max_examples=25, deadline=None)
@given(n_groups=st.integers(6, 20), n_per=st.integers(1, 5), folds=st.integers(2, 5), seed=st.integers(0, 1000))
def test_groups_never_straddle_folds(n_groups, n_per, folds, seed):
    rng = np.random.RandomState(seed)
    groups = np.repeat(np.arange(n_groups), n_per)
    y = np.repeat(np.arange(n_groups) % 2, n_per)  # one label per group, both classes >= 3 groups
    perm = rng.permutation(groups.size)
    groups, y = groups[perm], y[perm]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassifyWarning)
        splits = make_splitter(y, groups, folds=folds, seed=seed)
    for train, test in splits:
        assert np.intersect1d(groups[train], groups[test]).size == 0
    assert sorted(np.concatenate([te for _, te in splits]).tolist()) == list(range(y.size))


def test_group_folds_capped_by_groups_per_class():
    groups = np.array([0, 0, 1, 1, 2, 2, 6, 6, 3, 3, 4, 4, 5, 5])
    y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])  # class 0 in 4 groups, class 1 in 3
    with pytest.warns(ClassifyWarning, match=r"folds capped from 5 to 3 because class 1 occurs in only 3 groups"):
        splits = make_splitter(y, groups, folds=5)
    assert len(splits) == 3


def test_class_in_one_group_refused():
    with pytest.raises(SplitError, match=r"class 1 occurs in only 1 group; group-aware cross-validation needs every class in at least 2"):
        make_splitter(np.array([0, 0, 0, 0, 1, 1]), np.array([0, 1, 2, 3, 4, 4]))


def test_check_splits_catches_malformed_splits():
    y = _y([5, 5])
    with pytest.raises(SplitError, match=r"split 0 has rows in both train and test"):
        check_splits([(np.arange(6), np.arange(5, 10))], 10)
    with pytest.raises(SplitError, match=r"split 0 has index 12 outside 0..9"):
        check_splits([(np.arange(5), np.array([5, 12]))], 10)
    with pytest.raises(SplitError, match=r"split 0: group 2 is in both train and test"):
        check_splits([(np.arange(5), np.arange(5, 10))], 10, groups=np.array([0, 1, 2, 2, 2, 2, 3, 3, 3, 3]))
    assert len(check_splits(make_splitter(y, folds=2), 10)) == 2
