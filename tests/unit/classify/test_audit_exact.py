"""Exact copies: clusters, unique keys, merged CV groups, conflicting labels, straddling folds."""

import numpy as np
import pytest

from featx.classify import (
    CONFLICTS,
    FeatureSet,
    cross_validate_head,
    exact_clusters,
    make_splitter,
    merge_groups,
    plan_duplicates,
    straddling,
    unique_keys,
)
from featx.common import OptionError

HASHES = np.array(["a", "b", "a", "c", "d", "c", "e", "a"])
LABELS = np.array([0, 0, 0, 1, 1, 0, 1, 0])  # "a" x3 agree; "c" x2 disagree


def test_clusters_and_unique_keys():
    assert [c.tolist() for c in exact_clusters(HASHES)] == [[0, 2, 7], [3, 5]]
    paths = np.array(["z/0", "b", "a/2", "c", "d", "a/5", "e", "m/7"])
    keys = unique_keys(HASHES, paths)
    assert len(set(keys)) == len(keys)
    assert keys[1] == "b" and keys[4] == "d"  # rows without copies keep their hash
    assert (keys[2], keys[7], keys[0]) == ("a#0", "a#1", "a#2")  # copies numbered in path order
    assert (keys[5], keys[3]) == ("c#0", "c#1")


def test_merge_groups_joins_clusters_and_user_groups():
    g = merge_groups(6, [np.array([0, 1])], np.array(["u", "v", "v", "w", "x", "x"]))
    assert g[0] == g[1] == g[2] and len({g[3], g[4], g[0]}) == 3 and g[4] == g[5]


def test_plan_drops_conflicts_by_default_and_keeps_on_request():
    plan = plan_duplicates(HASHES, LABELS)
    assert [c.tolist() for c in plan.conflicting] == [[3, 5]]
    assert plan.keep.tolist() == [True, True, True, False, True, False, True, True] and plan.n_dropped == 2
    assert plan.groups[0] == plan.groups[2] == plan.groups[7] and len(set(plan.groups.tolist())) == 5
    msg = plan.message(["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"])
    assert "5 rows are exact copies" in msg and "2 cluster(s)" in msg
    assert "p3 / p5" in msg and "left out of training" in msg and "--conflicts keep" in msg
    kept = plan_duplicates(HASHES, LABELS, conflicts="keep")
    assert kept.keep.all() and "kept as labelled" in kept.message()
    with pytest.raises(OptionError, match=r"unknown value 'dorp'; did you mean 'drop'"):
        plan_duplicates(HASHES, LABELS, conflicts="dorp")
    assert CONFLICTS.default == "drop"


def test_no_copies_changes_nothing():
    plan = plan_duplicates(np.array(["a", "b", "c"]), np.array([0, 1, 0]))
    assert plan.groups is None and plan.keep.all() and plan.message() is None
    assert plan.keys.tolist() == ["a", "b", "c"]
    user = np.array(["g1", "g1", "g2"])
    assert plan_duplicates(np.array(["a", "b", "c"]), np.array([0, 1, 0]), groups=user).groups is user


def test_copies_never_straddle_the_folds_of_a_grouped_cv():
    rng = np.random.RandomState(0)
    n = 60
    hashes = np.array([f"h{i}" for i in range(n)])
    hashes[30:40] = hashes[:10]  # 10 copied pairs
    y = np.arange(n) % 2
    y[30:40] = y[:10]
    X = rng.randn(n, 5) + y[:, None]
    plain = make_splitter(y, None, folds=5, seed=0)
    clusters = exact_clusters(hashes)
    assert straddling(clusters, plain) > 0  # a plain CV puts copies on both sides
    plan = plan_duplicates(hashes, y)
    fs = FeatureSet("x", X, y, ["a", "b"], groups=plan.groups, keys=plan.keys)
    result = cross_validate_head(fs, "logreg", folds=5)
    assert straddling(clusters, result.fold_indices) == 0
