"""Classical heads on real cached features of ../shared/data/hymenoptera."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from featx.classify import compare
from featx.extract import read_cache
from featx.pipelines import feature_sets_from_cache


def _featx(*args):
    return subprocess.run([sys.executable, "-m", "featx.pipelines", *args], capture_output=True, text=True, timeout=600)


def test_logreg_5fold_balanced_accuracy(hymenoptera_cache):
    (fs,) = feature_sets_from_cache(read_cache(hymenoptera_cache))
    result = compare([fs], ["logreg"], folds=5, seed=0)
    score = result.best().metrics["balanced_accuracy"]["mean"]
    assert score >= 0.94, score


def test_shuffled_labels_stay_at_chance_on_real_features(hymenoptera_cache):
    data = read_cache(hymenoptera_cache)
    rng = np.random.default_rng(0)
    data.labels = rng.permutation(data.labels)
    (fs,) = feature_sets_from_cache(data)
    score = compare([fs], ["logreg"], pca=0.95, folds=5, seed=0).best().metrics["balanced_accuracy"]["mean"]
    assert score < 0.62, score


def test_fit_on_train_predict_on_val(hymenoptera_cache, tmp_path, shared_data):
    root = shared_data("hymenoptera")
    train = str(tmp_path / "train.h5")
    data = read_cache(hymenoptera_cache)
    # the train split's cache: extracted from the train folder (reuses nothing, real run)
    r = _featx("extract", f"{root}/train", "-o", train, "--workers", "1")
    assert r.returncode == 0, r.stderr
    bundle = str(tmp_path / "m.skops")
    r = _featx("fit", train, "--head", "logreg", "-o", bundle)
    assert r.returncode == 0, r.stderr
    preds = str(tmp_path / "preds.csv")
    r = _featx("predict", bundle, f"{root}/val", "-o", preds)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(preds)))
    assert len(rows) == 153 and set(rows[0]) == {"path", "predicted", "p_ants", "p_bees"}
    truth = {p.split("/", 1)[1]: data.class_names[y] for p, y in zip(data.paths, data.labels) if p.startswith("val/")}
    acc = np.mean([truth[r["path"]] == r["predicted"] for r in rows])
    assert acc >= 0.93, acc
    # the same bundle refuses features made by another model
    other = str(tmp_path / "other.h5")
    r = _featx("predict", bundle, f"{root}/val", "--cache", other, "-o", preds)
    assert r.returncode == 0
    import hashlib

    import skops.io as sio

    b = sio.load(bundle, trusted=sio.get_untrusted_types(file=bundle))
    b.meta["weights_sha256"] = "0" * 64
    sio.dump(b, bundle)
    with open(bundle + ".sha256", "w") as fh:  # a consistent sidecar: the file is "trusted" but mismatched
        fh.write(hashlib.sha256(open(bundle, "rb").read()).hexdigest())
    r = _featx("predict", bundle, f"{root}/val", "--cache", other)
    assert r.returncode == 2 and "weights_sha256" in r.stderr and "Traceback" not in r.stderr
