"""Bundles: fit on every row, save with a checksum, refuse tampered or mismatched use."""

from __future__ import annotations

import os

import numpy as np
import pytest

from featx.classify import (
    Bundle,
    BundleIntegrityError,
    FeatureSet,
    FeatureSetError,
    IncompatibleBundleError,
    OutputExistsError,
    ParameterError,
    fit_bundle,
    load_bundle,
    save_bundle,
)


@pytest.fixture
def bundle(hard_fs):
    return fit_bundle(hard_fs, "logreg", pca=0.95)


def test_round_trip_gives_identical_predictions(bundle, hard_fs, tmp_path):
    path = tmp_path / "model.joblib"
    assert save_bundle(bundle, path) == str(path)
    sidecar = (tmp_path / "model.joblib.sha256").read_text()
    assert sidecar.endswith("  model.joblib\n") and len(sidecar.split()[0]) == 64
    loaded = load_bundle(path)
    assert isinstance(loaded, Bundle) and loaded.class_names == ["ant", "bee"] and loaded.head == "logreg"
    np.testing.assert_array_equal(loaded.predict(hard_fs.X), bundle.predict(hard_fs.X))
    np.testing.assert_array_equal(loaded.predict_proba(hard_fs.X), bundle.predict_proba(hard_fs.X))
    assert set(loaded.predict(hard_fs.X)) <= {"ant", "bee"}
    assert (loaded.predict(hard_fs.X) == np.array(hard_fs.class_names)[hard_fs.y]).mean() > 0.8
    assert loaded.meta == bundle.meta


def test_meta_records_provenance_and_fit(bundle, hard_fs):
    assert bundle.meta["layer"] == "blocks.6" and bundle.meta["weights_sha256"] == hard_fs.meta["weights_sha256"]
    assert bundle.meta["feature_dim"] == 30
    fit = bundle.meta["fit"]
    assert fit["training_rows"] == 120 and fit["training_feature_set"] == "hard"
    assert fit["versions"]["scikit-learn"] and fit["versions"]["xgboost"] and fit["created_utc"].endswith("+00:00")
    assert fit["class_counts"] == {"ant": int((hard_fs.y == 0).sum()), "bee": int((hard_fs.y == 1).sum())}


def test_save_refuses_to_overwrite(bundle, tmp_path):
    path = tmp_path / "m.joblib"
    save_bundle(bundle, path)
    with pytest.raises(OutputExistsError, match=r"m.joblib' exists; pass overwrite=True"):
        save_bundle(bundle, path)
    save_bundle(bundle, path, overwrite=True)
    load_bundle(path)


def test_tampered_bundle_refused(bundle, tmp_path):
    path = tmp_path / "m.joblib"
    save_bundle(bundle, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError, match=r"refusing to load .*m.joblib': its sha256 .* does not match 'm.joblib.sha256'.*trusted sources"):
        load_bundle(path)


def test_missing_sidecar_refused(bundle, tmp_path):
    path = tmp_path / "m.joblib"
    save_bundle(bundle, path)
    os.remove(str(path) + ".sha256")
    with pytest.raises(BundleIntegrityError, match=r"checksum file 'm.joblib.sha256' is missing; joblib bundles are pickles: only load files from trusted sources"):
        load_bundle(path)
    with pytest.raises(BundleIntegrityError, match=r"does not exist"):
        load_bundle(tmp_path / "nope.joblib")


def test_mismatched_meta_refused_naming_the_keys(bundle, hard_fs):
    bundle.check_compatible(dict(hard_fs.meta, extra="ignored", feature_dim=30))  # same provenance: fine
    bundle.check_compatible({"layer": "blocks.6"})  # only common keys are compared
    bundle.check_compatible({"feature_dim": np.int64(30), "preprocessing": {"mean": (0.485, 0.456, 0.406), "size": 224.0}})
    other = dict(hard_fs.meta, layer="blocks.5", pooling="max")
    with pytest.raises(IncompatibleBundleError, match=r"layer \"blocks.6\" \(bundle\) vs \"blocks.5\" \(features\); pooling \"avg\" \(bundle\) vs \"max\""):
        bundle.check_compatible(other)
    with pytest.raises(IncompatibleBundleError, match=r"preprocessing .* \(bundle\) vs"):
        bundle.check_compatible(dict(hard_fs.meta, preprocessing={"size": 256, "mean": [0.485, 0.456, 0.406]}))
    with pytest.raises(IncompatibleBundleError, match=r"feature_dim 30 \(bundle\) vs 1280"):
        bundle.check_compatible({"feature_dim": 1280})
    with pytest.raises(IncompatibleBundleError, match=r"features have 7 columns but the bundle was trained on 30"):
        bundle.predict(np.zeros((2, 7)))


def test_search_picks_and_records_parameters(hard_fs):
    b = fit_bundle(hard_fs, "svm", search=True, grid={"clf__C": [0.001, 0.1]}, folds=3)
    assert b.params["search"] is True and b.params["best_params"]["clf__estimator__C"] in (0.001, 0.1)
    assert 0.5 < b.params["search_score"] <= 1.0
    proba = b.predict_proba(hard_fs.X)  # calibrated by default
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_no_probabilities_is_a_clear_error(hard_fs):
    b = fit_bundle(hard_fs, "ridge", probability=False)
    assert b.predict(hard_fs.X[:3]).shape == (3,)
    with pytest.raises(ParameterError, match=r"head 'ridge' was fitted without probabilities; refit with fit_bundle\(\.\.\., probability=True\)"):
        b.predict_proba(hard_fs.X[:3])


def test_fit_needs_labels(hard_fs):
    y = hard_fs.y.copy()
    y[:5] = -1
    with pytest.raises(FeatureSetError, match=r"5 of 120 rows are unlabelled"):
        fit_bundle(FeatureSet("u", hard_fs.X, y, hard_fs.class_names), "logreg")
    with pytest.raises(ParameterError, match=r"a grid is only used by a search: pass search=True"):
        fit_bundle(hard_fs, "logreg", grid={"clf__C": [1]})
