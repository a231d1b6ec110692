"""align_feature_sets: one row intersection for compare, ensembles and the pipelines."""

from __future__ import annotations

import numpy as np
import pytest

from featx.classify import AlignmentError, FeatureSet, align_feature_sets, compare


def _fs(name, keys, seed=0, groups=False):
    keys = np.asarray(keys)
    y = np.array([int(k.rsplit("/", 1)[0] == "b") for k in keys])  # label from the "folder"
    X = np.random.RandomState(seed).randn(len(keys), 3) + y[:, None] * 3
    return FeatureSet(name, X, y, ["a", "b"], keys=keys, groups=np.array([k[-1] for k in keys]) if groups else None)


PATHS = [f"{c}/{i}.jpg" for c in "ab" for i in range(6)]


def test_drop_keeps_the_rows_every_set_has_in_sorted_key_order():
    one = _fs("r18:avgpool", PATHS[::-1], seed=1)            # reversed order, all rows
    two = _fs("vit:head", [p for p in PATHS if p != "a/3.jpg"], seed=2)  # one image failed
    three = _fs("r18:layer3", [p for p in PATHS if p != "b/5.jpg"][::-1], seed=3)
    out = align_feature_sets([one, two, three], missing="drop")
    kept = sorted(set(PATHS) - {"a/3.jpg", "b/5.jpg"})
    assert isinstance(out, list) and [fs.name for fs in out] == ["r18:avgpool", "vit:head", "r18:layer3"]
    for fs, orig in zip(out, (one, two, three)):
        assert fs.keys.tolist() == kept
        pos = {k: i for i, k in enumerate(orig.keys.tolist())}
        assert np.array_equal(fs.X, orig.X[[pos[k] for k in kept]])  # rows move with their keys
        assert np.array_equal(fs.y, orig.y[[pos[k] for k in kept]])
    assert out.dropped == {"r18:avgpool": 2, "vit:head": 1, "r18:layer3": 1} and out.n_dropped == 2
    compare(list(out), ["centroid"], folds=2)  # aligned rows pass compare's same-rows check


def test_drop_with_nothing_missing_sorts_and_drops_nothing():
    out = align_feature_sets([_fs("x", PATHS[::-1]), _fs("y", PATHS)], missing="drop")
    assert out.dropped == {"x": 0, "y": 0} and out.n_dropped == 0
    assert out[0].keys.tolist() == sorted(PATHS)


def test_error_mode_keeps_the_first_sets_order_and_refuses_different_images():
    out = align_feature_sets([_fs("x", PATHS[::-1]), _fs("y", PATHS)])
    assert out[1].keys.tolist() == PATHS[::-1] and out.n_dropped == 0
    with pytest.raises(AlignmentError, match=r"\(1 keys only in the first, 0 only in the second\).*or pass missing='drop'"):
        align_feature_sets([_fs("x", PATHS), _fs("y", PATHS[1:])])


def test_drop_refuses_disjoint_sets_bad_modes_and_disagreeing_groups():
    with pytest.raises(AlignmentError, match=r"share no keys"):
        align_feature_sets([_fs("x", PATHS[:6]), _fs("y", PATHS[6:])], missing="drop")
    with pytest.raises(AlignmentError, match=r"missing must be 'error' or 'drop'; got 'keep'"):
        align_feature_sets([_fs("x", PATHS)], missing="keep")
    with pytest.raises(AlignmentError, match=r"groups of 'y' differ from 'x'"):
        align_feature_sets([_fs("x", PATHS), _fs("y", PATHS, groups=True)], missing="drop")
