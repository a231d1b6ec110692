"""Results and bundles are written atomically (unique temporary names, fsync, rename)."""

from __future__ import annotations

import hashlib
import json
import os
import warnings

import pytest

from featx.classify import PickleBundleWarning, compare, fit_bundle, load_bundle, save_bundle


def test_comparison_json_does_not_use_a_fixed_temporary_name(hard_fs, tmp_path):
    cmp = compare(hard_fs, ["centroid"], folds=3)
    path = tmp_path / "cv.json"
    (tmp_path / "cv.json.tmp").mkdir()  # what the fixed name of old would have tripped over
    cmp.to_json(path, predictions=True)
    doc = json.loads(path.read_text())
    assert doc["records"][0]["head"] == "centroid" and "oof_proba" in doc["results"][0]
    assert sorted(os.listdir(tmp_path)) == ["cv.json", "cv.json.tmp"]


@pytest.mark.parametrize("name", ["m.joblib", "m.skops"])
def test_bundles_are_written_whole_with_a_matching_sidecar(hard_fs, tmp_path, name):
    bundle = fit_bundle(hard_fs, "logreg")
    path = save_bundle(bundle, tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == [name, name + ".sha256"]
    digest = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    assert (tmp_path / (name + ".sha256")).read_text() == f"{digest}  {name}\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PickleBundleWarning)
        loaded = load_bundle(path)
    assert (loaded.predict(hard_fs.X) == bundle.predict(hard_fs.X)).all()
    assert set(bundle.meta["fit"]["versions"]) == {"python", "featx", "scikit-learn", "xgboost", "numpy", "joblib"}

