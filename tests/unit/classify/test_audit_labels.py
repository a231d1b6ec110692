"""Confident learning's prune, then retrain (``prune_and_rescore``), as the audit ranks label issues."""

import numpy as np

from featx.classify import FeatureSet, audit, cross_validate_head, find_label_issues, make_splitter, prune_and_rescore
from featx.classify.audits._labels import pruned_splits


def test_pruned_splits_leave_rows_out_of_training_only():
    y = np.array([0, 1] * 10)
    splits = make_splitter(y, None, folds=4, seed=0)
    out = pruned_splits(y, splits, [0, 3, 5])
    for (train, test), (kept, same) in zip(splits, out):
        assert same.tolist() == test.tolist()
        assert kept.tolist() == [i for i in train.tolist() if i not in (0, 3, 5)]
    # pruning every row of class 1 from a training part would leave the head one class: refused
    assert pruned_splits(y, splits, np.flatnonzero(y == 1)) is None


def test_prune_and_rescore_calls_back_with_the_first_issues_out_of_training():
    y = np.array([0] * 6 + [1] * 6)
    proba = np.tile([0.9, 0.1], (12, 1))
    proba[6:] = [0.1, 0.9]
    proba[2] = [0.05, 0.95]  # labelled 0, looks like 1
    splits = make_splitter(y, None, folds=3, seed=0)
    seen = []

    class Rescored:  # what the callback returns: a result with (repeats, n, k) oof_proba
        oof_proba = np.stack([np.where(np.arange(12)[:, None] == 2, [0.01, 0.99], proba)])

    def refit(pruned):
        seen.append(pruned)
        return Rescored

    issues, second = prune_and_rescore(y, proba, splits, refit)
    assert len(seen) == 1 and all(2 not in train for train, _ in seen[0])
    assert sorted(np.concatenate([test for _, test in seen[0]]).tolist()) == list(range(12))  # every row scored
    assert issues.rows.tolist() == [2] and issues.score[0] > find_label_issues(y, proba).score[0]
    np.testing.assert_allclose(second[2], [0.01, 0.99])
    # no issues in the first pass: nothing to prune, no refit
    clean = proba.copy()
    clean[2] = [0.9, 0.1]
    issues, same = prune_and_rescore(y, clean, splits, refit)
    assert len(seen) == 1 and issues.rows.size == 0 and np.array_equal(same, clean)


def test_pruning_finds_more_flips_of_a_contaminated_cv():
    # more features than rows: logistic regression fits the flipped labels of its training folds,
    # which pulls the out-of-fold probabilities of the other flips towards their given labels
    rng = np.random.RandomState(2)
    n, d = 120, 300
    y_true = np.arange(n) % 2
    X = rng.randn(n, d) + 0.25 * y_true[:, None]
    flips = rng.choice(n, 12, replace=False)
    y = y_true.copy()
    y[flips] = 1 - y[flips]
    fs = FeatureSet("x", X, y, ["a", "b"])
    splits = make_splitter(y, None, folds=5, seed=0)
    first = cross_validate_head(fs, "logreg", splits=splits, probability=True)
    before = find_label_issues(y, first.oof_proba)
    after, _ = prune_and_rescore(y, first.oof_proba, splits,
                                 lambda s: cross_validate_head(fs, "logreg", splits=s, probability=True))
    top = int(1.5 * len(flips))
    found_before = np.isin(flips, before.rows[:top]).sum()
    found_after = np.isin(flips, after.rows[:top]).sum()
    assert found_after > found_before, (found_before, found_after)
    assert (after.suggested == y_true[after.rows])[np.isin(after.rows, flips)].all()


def test_audit_ranks_with_the_pruned_cv_by_default():
    rng = np.random.RandomState(0)
    y = np.arange(80) % 2
    X = rng.randn(80, 64) + 1.0 * y[:, None]
    y_given = y.copy()
    y_given[[5, 12]] = 1 - y_given[[5, 12]]
    fs = FeatureSet("x", X, y_given, ["a", "b"])
    paths = [f"img{i}.png" for i in range(80)]
    pruned = audit(fs, paths, folds=4)
    plain = audit(fs, paths, folds=4, prune=False)
    assert pruned.pruned and not plain.pruned
    assert set(pruned.label_issues.rows[:2].tolist()) == {5, 12}
    assert "pruned and rescored" in pruned.summary() and "pruned and rescored" not in plain.summary()
    # the same CV gives calibration and predictions either way; only the ranking is rescored
    np.testing.assert_allclose(pruned.oof_proba, plain.oof_proba)
    assert pruned.calibration == plain.calibration
    assert not np.allclose(pruned.label_issues.score[:2], plain.label_issues.score[:2])


def test_audit_configuration_rescores_through_the_callers_cross_validate():
    from featx.classify import audit_configuration

    rng = np.random.RandomState(0)
    y = np.arange(80) % 2
    X = rng.randn(80, 64) + 1.0 * y[:, None]
    y_given = y.copy()
    y_given[5] = 1 - y_given[5]
    fs = FeatureSet("x", X, y_given, ["a", "b"])
    splits = make_splitter(y_given, None, folds=4, seed=0)
    result = cross_validate_head(fs, "logreg", splits=splits, probability=True)
    calls = []

    def rerun(other_fs, other_splits):
        calls.append(other_splits)
        return cross_validate_head(other_fs, "logreg", splits=other_splits, probability=True)

    out = audit_configuration(fs, result, splits, exact=[], near=[], cross_validate=rerun, folds=4)
    first = find_label_issues(y_given, result.oof_proba).rows
    assert 5 in first and len(calls) == 2  # the other folds, then the pruned ones
    assert all(not np.isin(first, train).any() for train, _ in calls[1])
    assert [t.tolist() for _, t in calls[1]] == [t.tolist() for _, t in splits]
    assert out["label_issues"][0]["row"] == 5
    assert len(calls) == 2 and audit_configuration(fs, result, splits, exact=[], near=[], cross_validate=rerun,
                                                   folds=4, prune=False)["label_issues"][0]["row"] == 5
    assert len(calls) == 3  # without prune: the other folds only
