"""The safe bundle format: .skops files hold data, and loading builds only the types featx writes;
anything else is refused before a single object is constructed. joblib bundles still load, with
their sidecar checked and a warning."""

from __future__ import annotations

import os
import warnings
import zipfile

import numpy as np
import pytest
import skops.io as sio

from featx.classify import (
    HEADS,
    Bundle,
    BundleIntegrityError,
    PickleBundleWarning,
    fit_bundle,
    is_skops_file,
    load_bundle,
    save_bundle,
    trusted_types,
)


@pytest.mark.parametrize("pca", [None, 5])
@pytest.mark.parametrize("head", sorted(HEADS))
def test_every_head_round_trips_as_skops_without_a_warning(hard_fs, tmp_path, head, pca):
    bundle = fit_bundle(hard_fs, head, pca=pca)
    path = save_bundle(bundle, tmp_path / "m.skops")
    assert is_skops_file(path) and os.path.exists(path + ".sha256")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PickleBundleWarning)
        loaded = load_bundle(path)
    assert isinstance(loaded, Bundle) and loaded.meta == bundle.meta and loaded.params == bundle.params
    np.testing.assert_array_equal(loaded.predict_proba(hard_fs.X), bundle.predict_proba(hard_fs.X))
    # nothing beyond the allow-list was needed
    assert set(sio.get_untrusted_types(file=path)) <= trusted_types()


class Planted:
    """A type featx never writes, with a side effect when it is built from a file."""

    def __setstate__(self, state):
        with open(state["marker"], "w") as fh:
            fh.write("ran")


def test_foreign_types_are_refused_before_anything_is_built(hard_fs, tmp_path):
    marker = tmp_path / "ran.txt"
    bundle = fit_bundle(hard_fs, "logreg")
    planted = Planted()
    planted.__dict__["marker"] = str(marker)
    bundle.meta["extra"] = planted  # a stranger's file: a featx bundle with one foreign object inside
    path = str(tmp_path / "evil.skops")
    sio.dump(bundle, path)  # no sidecar: skops files do not need one
    with pytest.raises(BundleIntegrityError, match=r"refusing to load .*evil.skops'.*types featx bundles never contain \(.*Planted\)"):
        load_bundle(path)
    assert not marker.exists()
    # the same object through skops itself, trusting everything, does run it: the check is what stops it
    sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert marker.read_text() == "ran"


def test_tampered_and_damaged_skops_are_refused(hard_fs, tmp_path):
    path = save_bundle(fit_bundle(hard_fs, "rf"), tmp_path / "m.skops")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    with open(path, "wb") as fh:
        fh.write(bytes(data))
    with pytest.raises(BundleIntegrityError, match=r"its sha256 .* does not match 'm.skops.sha256'"):
        load_bundle(path)
    os.remove(path + ".sha256")  # without the sidecar the damage is still caught, as an unreadable file
    with pytest.raises(BundleIntegrityError, match=r"(cannot read bundle|not a skops file)"):
        load_bundle(path)
    other = tmp_path / "renamed.skops"
    save_bundle(fit_bundle(hard_fs, "logreg"), tmp_path / "x.joblib")
    os.rename(tmp_path / "x.joblib", other)
    with pytest.raises(BundleIntegrityError, match=r"not a skops file"):
        load_bundle(other)


def test_a_zip_that_is_not_a_bundle_is_refused(tmp_path):
    path = tmp_path / "other.skops"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", "{not json")
    with pytest.raises(BundleIntegrityError, match="cannot read bundle"):
        load_bundle(path)


def test_joblib_bundles_load_with_a_warning(hard_fs, tmp_path):
    bundle = fit_bundle(hard_fs, "logreg")
    path = save_bundle(bundle, tmp_path / "m.joblib")
    assert not is_skops_file(path)
    with pytest.warns(PickleBundleWarning, match="joblib pickle bundle.*prefer .skops"):
        loaded = load_bundle(path)
    np.testing.assert_array_equal(loaded.predict(hard_fs.X), bundle.predict(hard_fs.X))
