"""Label issues (confident learning), k-NN outliers, calibration, near-duplicates and the audit."""

import numpy as np
import pytest

from featx.classify import (
    DEDUPE,
    FeatureSet,
    NearDuplicateRule,
    audit,
    calibration,
    find_label_issues,
    knn_outliers,
    make_splitter,
    near_duplicates,
    straddling,
)
from featx.classify.audits._labels import label_quality
from featx.classify.audits._near import hash_distance
from featx.common import OptionError


def test_confident_learning_finds_the_flipped_rows():
    rng = np.random.RandomState(0)
    n, k = 300, 3
    y_true = rng.randint(0, k, n)
    proba = np.full((n, k), 0.05)
    proba[np.arange(n), y_true] = 0.9
    proba += rng.uniform(0, 0.05, (n, k))
    proba /= proba.sum(1, keepdims=True)
    flips = rng.choice(n, 15, replace=False)
    y = y_true.copy()
    y[flips] = (y[flips] + 1) % k
    issues = find_label_issues(y, proba)
    assert set(issues.rows.tolist()) == set(flips.tolist())
    assert (issues.suggested == y_true[issues.rows]).all() and (issues.given == y[issues.rows]).all()
    assert np.all(np.diff(issues.score) <= 1e-12)  # most likely wrong first
    assert issues.confident_joint.sum() == n and np.trace(issues.confident_joint) == n - 15
    # a stacked (repeats, n, k) array is averaged; gaps are refused
    assert find_label_issues(y, np.stack([proba, proba])).rows.tolist() == issues.rows.tolist()
    bad = proba.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="without gaps"):
        find_label_issues(y, bad)


def test_label_quality_rankings():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    y = np.array([0, 1])
    np.testing.assert_allclose(label_quality(y, proba, "self_confidence"), [0.7, 0.3])
    np.testing.assert_allclose(label_quality(y, proba), [(0.5 + 1) / 2, (-0.3 + 1) / 2])
    with pytest.raises(ValueError, match="ranking must be one of"):
        label_quality(y, proba, "margin")


def test_outlier_is_ranked_first():
    rng = np.random.RandomState(1)
    X = np.vstack([rng.randn(50, 8) * 0.1 + 3, rng.randn(50, 8) * 0.1 - 3, [[0, 9, -9, 0, 9, -9, 0, 9]]])
    scores = knn_outliers(X, k=5)
    assert int(np.argmax(scores)) == 100


def test_calibration_of_perfect_and_overconfident_probabilities():
    y = np.array([0, 1] * 50)
    perfect = np.eye(2)[y]
    assert calibration(y, perfect)["ece"] == pytest.approx(0.0)
    over = np.full((100, 2), [0.99, 0.01])  # always 0 at 99%: half right
    cal = calibration(y, over)
    assert cal["ece"] == pytest.approx(0.49) and cal["accuracy"] == 0.5
    full = [b for b in cal["bins"] if b["count"]]
    assert len(full) == 1 and full[0]["confidence"] == pytest.approx(0.99) and len(cal["bins"]) == 10


def test_near_duplicates_from_hashes_and_mirror():
    rng = np.random.RandomState(2)
    X = rng.randn(40, 16)
    X[1] = X[0] + 0.01 * rng.randn(16)  # a copy by features
    hashes = rng.rand(40, 63) > 0.5
    mirrored = rng.rand(40, 63) > 0.5
    hashes[2] = mirrored[3]  # row 2 is row 3's mirror image
    X[2] = X[3] + 0.8 * rng.randn(16)  # features alone do not link them
    ok = np.ones(40, dtype=bool)
    assert hash_distance(hashes, mirrored, np.array([2]), np.array([3]))[0] == 0
    clusters = near_duplicates(X, hashes=hashes, mirrored=mirrored, hash_ok=ok,
                               rule=NearDuplicateRule())
    found = sorted(sorted(rows.tolist()) for rows, _ in clusters)
    assert [2, 3] in found
    # features only: the close pair, and no random pair
    only = near_duplicates(X)
    assert [sorted(r.tolist()) for r, _ in only] == [[0, 1]] and 0.9 < only[0][1] <= 1.0


def _blobs(n=80, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = rng.randn(n, 64) + 1.0 * y[:, None]
    return X, y


def test_audit_record_has_the_contract_keys_and_finds_planted_problems():
    X, y = _blobs()
    X[70] = X[10]  # an exact copy (same sha256)...
    X[71] = X[11] * 1.0001  # ...and a near copy
    sha = np.array([f"s{i}" for i in range(80)])
    sha[70] = sha[10]
    y_given = y.copy()
    y_given[5] = 1 - y_given[5]  # a flipped label
    paths = [f"img{i}.png" for i in range(80)]
    fs = FeatureSet("x", X, y_given, ["a", "b"])
    result = audit(fs, paths, sha256=sha, folds=4)
    rec = result.to_json()
    assert list(rec) == ["exact_duplicates", "near_duplicates", "label_issues", "outliers", "calibration", "leak",
                         "image_issues"]
    assert rec["image_issues"] == []  # no pixel statistics given
    assert rec["exact_duplicates"] == [["img10.png", "img70.png"]]
    near = [c for c in rec["near_duplicates"] if c["paths"] == ["img11.png", "img71.png"]]
    assert len(near) == 1 and near[0]["min_similarity"] == pytest.approx(1.0, abs=1e-3)
    assert near[0]["pairs"] == [{"paths": ["img11.png", "img71.png"], "cosine": pytest.approx(1.0, abs=1e-3),
                                 "hash_distance": None, "mirrored": False}]
    assert rec["label_issues"][0]["path"] == "img5.png"
    assert rec["label_issues"][0]["given"] == "a" and rec["label_issues"][0]["suggested"] == "b"
    assert len(rec["outliers"]) == 20 and 0 <= rec["calibration"]["ece"] <= 1
    scores = [o["score"] for o in rec["outliers"]]
    assert scores == sorted(scores, reverse=True) and all(isinstance(o["path"], str) for o in rec["outliers"])
    assert {"straddling_clusters", "score_grouped", "score_ungrouped", "metric", "difference", "interval"} <= set(rec["leak"])
    plain = make_splitter(y_given, None, folds=4, seed=0)
    expected = straddling([np.array([10, 70]), np.array([11, 71])], plain)
    assert rec["leak"]["metric"] == "balanced_accuracy" and rec["leak"]["straddling_clusters"] == expected
    text = result.summary()
    assert "img10.png = img70.png" in text and "img5.png: given a, suggested b" in text
    with pytest.raises(OptionError, match="choose from: warn, group"):
        DEDUPE.check("both")


def test_map_2d_separates_classes_and_samples_large_sets():
    from featx.classify import map_2d

    X, y = _blobs(n=60)
    X = X + 4.0 * y[:, None]
    rows, xy = map_2d(X, y)
    assert rows.tolist() == list(range(60)) and xy.shape == (60, 2) and xy.min() >= 0 and xy.max() <= 1
    a, b = xy[y == 0].mean(0), xy[y == 1].mean(0)
    assert np.linalg.norm(a - b) > 0.3
    rows, xy = map_2d(X, y, max_rows=20)
    assert len(rows) == 20 and np.bincount(y[rows]).tolist() == [10, 10]


def test_audit_configuration_of_a_cross_validated_head():
    from featx.classify import audit_configuration, cluster_rows, cross_validate_head

    X, y = _blobs()
    X[71] = X[11] * 1.0001  # a near copy
    y_given = y.copy()
    y_given[5] = 1 - y_given[5]
    fs = FeatureSet("x", X, y_given, ["a", "b"])
    exact, near = cluster_rows(X)
    assert [r.tolist() for r, _ in near] == [[11, 71]]
    splits = make_splitter(y_given, None, folds=4, seed=0)
    result = cross_validate_head(fs, "logreg", splits=splits, seed=0, probability=True)
    reruns = []

    def rerun(other_fs, other_splits):
        reruns.append(other_fs.groups)
        return cross_validate_head(other_fs, "logreg", splits=other_splits, seed=0, probability=True)

    paths = [f"img{i}.png" for i in range(80)]
    out = audit_configuration(fs, result, splits, exact=exact, near=near, cross_validate=rerun, folds=4, paths=paths)
    leak = out["leak"]
    assert leak["score_ungrouped"] == result.mean("balanced_accuracy") and leak["mode"] == "warn"
    assert reruns[0][11] == reruns[0][71] and len(set(reruns[0].tolist())) == 79  # the near pair as one group
    assert leak["straddling_clusters"] == straddling([np.array([11, 71])], splits) and leak["unavailable"] is None
    assert out["label_issues"][0]["row"] == 5 and out["label_issues"][0]["suggested"] == y[5]
    assert len(out["outliers"]) == 20 and 0 <= out["calibration"]["ece"] <= 1
    assert len(out["map"]["rows"]) == 80 and len(out["map"]["xy"][0]) == 2 and out["near"][0]["rows"] == [11, 71]
    # the built-in checks' findings (the featx audit --json shape), the row-keyed fields by hand
    rec = out["findings"]
    assert list(rec) == ["exact_duplicates", "near_duplicates", "label_issues", "outliers", "calibration", "leak",
                         "image_issues"]
    assert rec["near_duplicates"][0]["paths"] == ["img11.png", "img71.png"] and rec["exact_duplicates"] == []
    assert rec["near_duplicates"][0]["min_similarity"] == round(out["near"][0]["min_similarity"], 4)
    assert rec["label_issues"][0] == {"path": "img5.png", "given": "b" if y[5] == 0 else "a",
                                      "suggested": "a" if y[5] == 0 else "b", "score": round(out["label_issues"][0]["score"], 4)}
    assert rec["outliers"] == [{"path": paths[i], "score": s} for i, s in zip(out["outliers"], out["outlier_scores"])]
    assert rec["calibration"] == out["calibration"] and rec["leak"] == leak and rec["image_issues"] == []
    assert out["image_issues"] is None  # no pixel statistics given


def test_a_chain_is_not_one_cluster():
    """A~B and B~C by the rule, A and C not alike: stars around a medoid, never A with C."""
    from featx.classify import NearDuplicateRule, near_duplicates

    rng = np.random.RandomState(5)
    n, d = 60, 32
    X = rng.randn(n, d)
    hashes = rng.rand(n, 63) > 0.5
    mirrored = rng.rand(n, 63) > 0.5
    # B (row 1) is within 3 bits of A (row 0) and of C (row 2); A and C are 6 bits apart
    hashes[1] = hashes[0]
    hashes[1, :3] = ~hashes[1, :3]
    hashes[2] = hashes[1]
    hashes[2, 3:6] = ~hashes[2, 3:6]
    X[1], X[2] = X[0] + 0.6 * rng.randn(d), X[0] + 1.2 * rng.randn(d)
    ok = np.ones(n, bool)
    assert hash_distance(hashes, mirrored, np.array([0]), np.array([2]))[0] == 6
    clusters = near_duplicates(X, hashes=hashes, mirrored=mirrored, hash_ok=ok, rule=NearDuplicateRule(hash_bits=4, ratio=0.0))
    found = [sorted(c.rows.tolist()) for c in clusters]
    # B joins A (its features are the nearer), never both: A and C are too far apart in hash bits
    assert found == [[0, 1]], found
    assert clusters[0].medoid == 1 and clusters[0].pairs.tolist() == [[0, 1]]


def test_distinct_objects_with_close_features_are_not_copies():
    """Ten rows close to each other by cosine (same object class on white), hashes far apart:
    no cluster; the same ten with one copy planted: that pair only."""
    from featx.classify import near_duplicates

    rng = np.random.RandomState(7)
    base = rng.randn(64)
    X = np.vstack([base + 0.35 * rng.randn(10, 64), rng.randn(50, 64)])
    hashes = rng.rand(60, 63) > 0.5
    mirrored = rng.rand(60, 63) > 0.5
    ok = np.ones(60, bool)
    assert near_duplicates(X, hashes=hashes, mirrored=mirrored, hash_ok=ok) == []
    X[3] = X[4] + 0.02 * rng.randn(64)
    hashes[3] = mirrored[4]  # a mirrored copy
    (c,) = near_duplicates(X, hashes=hashes, mirrored=mirrored, hash_ok=ok)
    assert c.rows.tolist() == [3, 4] and c.pairs_json([str(i) for i in range(60)]) == [
        {"paths": ["3", "4"], "cosine": pytest.approx(float(c.cosines[0]), abs=1e-3), "hash_distance": 0, "mirrored": True}]


def test_paired_folds_move_only_cluster_members_and_equal_scores_without_clusters():
    from featx.classify.audits._audit import paired_splits

    X, y = _blobs(90, seed=3)
    paths = [f"img{i}.png" for i in range(90)]
    fs = FeatureSet("x", X, y, ["a", "b"])
    rec = audit(fs, paths, folds=3, prune=False).to_json()["leak"]
    assert rec["straddling_clusters"] == 0 and rec["folds_changed"] == 0
    assert rec["score_grouped"] == rec["score_ungrouped"] and rec["difference"] == 0.0 and rec["interval"] == [0.0, 0.0]

    splits = make_splitter(y, None, folds=3, seed=0)
    groups = np.arange(90)
    a, b = int(splits[0][1][0]), int(splits[1][1][0])  # two rows in different test folds
    groups[b] = a
    paired = paired_splits(splits, groups)
    assert straddling([np.array([a, b])], paired) == 0
    for (_, t0), (_, t1) in zip(splits, paired):  # only the later row moved, to its group's first row
        assert set(t0) ^ set(t1) <= {max(a, b)}
    assert sum(len(set(t0) ^ set(t1)) for (_, t0), (_, t1) in zip(splits, paired)) == 2
    X2 = X.copy()
    X2[b] = X2[a] * 1.0001  # now a real near copy straddling a plain fold
    out = audit(FeatureSet("x", X2, y, ["a", "b"]), paths, folds=3, prune=False).to_json()["leak"]
    assert out["straddling_clusters"] == 1 and out["interval"][0] <= out["difference"] <= out["interval"][1]
