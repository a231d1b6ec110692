"""compare(): heads x feature sets on identical folds; tidy records, table, JSON."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from featx.classify import (
    AlignmentError,
    FeatureSet,
    MissingDependencyError,
    OutputExistsError,
    ParameterError,
    UnknownHeadError,
    compare,
)


@pytest.fixture
def two_layers(hard_fs):
    noisy = hard_fs.X + np.random.RandomState(0).randn(*hard_fs.X.shape).astype(np.float32) * 3
    return [hard_fs, FeatureSet("noisy", noisy, hard_fs.y, hard_fs.class_names, keys=hard_fs.keys, meta={"layer": "blocks.3"})]


def test_records_json_table_sorted_and_identical_folds(two_layers):
    calls = []
    cmp = compare(two_layers, ["logreg", "centroid", "knn"], folds=4, progress=lambda d, t, label: calls.append((d, t, label)))
    assert len(cmp) == 6
    assert calls == [(i + 1, 6, f"{fs}/{h}") for i, (fs, h) in enumerate(
        (fs, h) for fs in ("hard", "noisy") for h in ("logreg", "centroid", "knn"))]
    records = cmp.records()
    text = json.dumps(records, allow_nan=False)
    assert json.loads(text) == records
    rec = records[0]
    assert rec["feature_set"] == "hard" and rec["head"] == "logreg" and rec["n_folds"] == 4
    for key in ("balanced_accuracy_mean", "balanced_accuracy_std", "balanced_accuracy_ci95_low", "roc_auc_mean",
                "log_loss_mean", "fit_time_total", "best_params"):
        assert key in rec
    # every configuration on the same folds
    first = cmp.results[0].fold_indices
    for r in cmp.results[1:]:
        assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, r.fold_indices))
    # the table is sorted by the main metric, best first
    lines = cmp.table().splitlines()
    assert lines[0].split()[:3] == ["feature_set", "head", "balanced_accuracy"]
    means = [float(line.split()[2]) for line in lines[2:]]
    assert len(means) == 6 and means == sorted(means, reverse=True)
    assert cmp.best().mean() == max(r.mean() for r in cmp.results)
    assert cmp.best().feature_set == "hard"  # the noisy layer is worse
    # log loss: lower is better
    ll = [float(line.split()[2]) for line in cmp.table("log_loss").splitlines()[2:]]
    assert ll == sorted(ll)
    assert cmp.get("noisy", "knn").head == "knn"


def test_to_json_and_refusal_to_overwrite(two_layers, tmp_path):
    cmp = compare(two_layers, "logreg,centroid", folds=3)
    out = tmp_path / "cv.json"
    cmp.to_json(out)
    doc = json.loads(out.read_text())
    assert len(doc["records"]) == 4 and len(doc["results"]) == 4
    assert doc["results"][1]["head"] == "centroid" and "metrics" in doc["results"][1]
    with pytest.raises(OutputExistsError, match=r"cv.json' exists; pass overwrite=True"):
        cmp.to_json(out)
    cmp.to_json(out, overwrite=True)


def test_to_dataframe_needs_pandas(two_layers):
    cmp = compare(two_layers[:1], ["centroid"], folds=3)
    if importlib.util.find_spec("pandas") is None:
        with pytest.raises(MissingDependencyError, match=r"needs pandas, which is not installed; pip install pandas, or use \.records\(\)"):
            cmp.to_dataframe()
    else:
        df = cmp.to_dataframe()
        assert list(df["head"]) == ["centroid"]


def test_feature_sets_must_describe_the_same_rows(hard_fs):
    order = np.random.RandomState(0).permutation(hard_fs.n_samples)
    shuffled = hard_fs.subset(order, name="shuffled")
    with pytest.raises(AlignmentError, match=r"compare: labels of 'shuffled' differ from 'hard' \(first at row \d+\).*align_feature_sets"):
        compare([hard_fs, shuffled], ["logreg"])
    shorter = hard_fs.subset(np.arange(100), name="short")
    with pytest.raises(AlignmentError, match=r"'short' has 100 rows but 'hard' has 120"):
        compare([hard_fs, shorter], ["logreg"])
    with pytest.raises(AlignmentError, match=r"names \['hard'\] are used twice"):
        compare([hard_fs, hard_fs], ["logreg"])


def test_bad_heads_and_grids(hard_fs):
    with pytest.raises(UnknownHeadError, match=r"unknown head 'svn'; did you mean 'svm'"):
        compare([hard_fs], ["logreg", "svn"])
    with pytest.raises(ParameterError, match=r"unknown head in grids 'rf'; choose from: logreg"):
        compare([hard_fs], ["logreg"], nested=True, grids={"rf": {"clf__max_depth": [2]}})
    with pytest.raises(ParameterError, match=r"unknown metric 'bacc'"):
        compare([hard_fs], ["centroid"], folds=3).table("bacc")


def test_nested_grids_per_head(hard_fs):
    cmp = compare([hard_fs], ["logreg", "ridge"], folds=3, nested=True,
                  grids={"logreg": {"clf__C": [0.05]}, "ridge": {"clf__alpha": [3.0]}})
    assert [p["clf__C"] for p in cmp.get("hard", "logreg").best_params] == [0.05] * 3
    assert [p["clf__alpha"] for p in cmp.get("hard", "ridge").best_params] == [3.0] * 3
