"""``featx cv`` and ``featx fit`` on a real cache of tiny real images (random-weight features)."""

import json
import subprocess
import sys
import time

import pytest

from featx.classify import compare, load_bundle
from featx.extract import extract
from featx.pipelines import load_feature_sets
from featx.pipelines.cli import main
from helpers.testdata import write_colour_dataset

FEATX = [sys.executable, "-m", "featx.pipelines"]
FAST = ["--heads", "logreg,centroid", "--folds", "3"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("cv")
    out = str(root / "colours.h5")
    extract(write_colour_dataset(str(root / "colours")), out, weights="none", workers=0,
            layers=["blocks.1", "global_pool"], progress=False)
    return out


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_table_and_json_match_the_python_api(cache, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["cv", cache, *FAST, "--metric", "f1_macro", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    header = printed.splitlines()[0].split()
    assert header[:4] == ["feature_set", "head", "f1_macro", "mean+-std"]
    rows = [line.split() for line in printed.splitlines()[2:6]]
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        (f"efficientnet_lite0/{layer}", head) for layer in ("blocks.1", "global_pool") for head in ("logreg", "centroid"))
    assert "best: efficientnet_lite0/" in printed and f"wrote {out}" in printed
    records = json.loads(out.read_text())
    api = compare(load_feature_sets([cache]), ["logreg", "centroid"], folds=3, metric="f1_macro").records()
    assert [(r["feature_set"], r["head"], r["f1_macro_mean"], r["n_folds"]) for r in records] == \
        [(r["feature_set"], r["head"], r["f1_macro_mean"], 3) for r in api]


def test_json_is_not_overwritten_without_overwrite(cache, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("keep me")
    assert main(["cv", cache, *FAST, "--json", str(out)]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert str(out) in line and "--overwrite" in line
    assert captured.out == "" and out.read_text() == "keep me"  # refused before any CV
    assert main(["cv", cache, *FAST, "--json", str(out), "--overwrite"]) == 0
    assert len(json.loads(out.read_text())) == 4


def test_bad_metric_fails_at_once_before_reading_caches(tmp_path):
    t0 = time.perf_counter()
    r = subprocess.run([*FEATX, "cv", str(tmp_path / "no-such.h5"), "--metric", "balanced_acc"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stdout == ""
    line = _one_error_line(r.stderr)
    assert "--metric" in line and "'balanced_acc'" in line and "balanced_accuracy" in line
    assert "no-such" not in line  # the metric was checked before the cache was looked at
    assert time.perf_counter() - t0 < 60
    with pytest.raises(SystemExit) as exc:
        main(["cv", str(tmp_path / "no-such.h5"), "--search-metric", "f1"])
    assert exc.value.code == 2


def test_metric_and_search_metric_reach_the_inner_search(cache, capsys):
    # svm has no predict_proba: a search scored by log loss must refuse it, so the flag must arrive
    base = ["cv", cache, "--layer", "global_pool", "--heads", "svm", "--folds", "3", "--nested", "--inner-folds", "2"]
    assert main([*base, "--search-metric", "log_loss"]) == 2
    assert "search_metric='log_loss' needs probabilities" in _one_error_line(capsys.readouterr().err)
    assert main([*base, "--metric", "log_loss"]) == 2  # the ranking metric is the search's by default
    assert "search_metric='log_loss' needs probabilities" in _one_error_line(capsys.readouterr().err)
    assert main([*base, "--metric", "log_loss", "--search-metric", "accuracy"]) == 0
    assert "log_loss mean+-std" in capsys.readouterr().out


def test_nested_with_grid_reports_chosen_parameters(cache, tmp_path, capsys):
    out = tmp_path / "nested.json"
    args = ["cv", cache, "--layer", "global_pool", "--heads", "logreg", "--folds", "3", "--nested",
            "--inner-folds", "2", "--grid", "logreg:clf__C=0.5,2", "--json", str(out)]
    assert main(args) == 0
    (record,) = json.loads(out.read_text())
    assert record["nested"] is True and record["feature_set"] == "efficientnet_lite0/global_pool"
    assert len(record["best_params"]) == 3
    assert all(set(p) == {"clf__C"} and p["clf__C"] in (0.5, 2) for p in record["best_params"])
    assert main(["cv", cache, "--heads", "logreg", "--grid", "logreg:C"]) == 2
    assert "is not HEAD:PARAM=V1,V2" in _one_error_line(capsys.readouterr().err)


def test_layer_that_does_not_exist(cache, capsys):
    for layers in (["--layer", "blocks.9"], ["--layer", "global_pool", "--layer", "blocks.9"]):
        assert main(["cv", cache, *FAST, *layers]) == 2
        captured = capsys.readouterr()
        line = _one_error_line(captured.err)
        assert "'blocks.9' is not in cache" in line and "global_pool" in line and captured.out == ""


def test_cv_subprocess_end_to_end(cache, tmp_path):
    out = tmp_path / "sub.json"
    r = subprocess.run([*FEATX, "cv", cache, *FAST, "--layer", "blocks.1", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == f"wrote {out}"
    assert {rec["head"] for rec in json.loads(out.read_text())} == {"logreg", "centroid"}


def test_fit_search_uses_the_metric_flags(cache, tmp_path, capsys):
    for extra, expected in ((["--metric", "f1_macro"], "f1_macro"),
                            (["--metric", "f1_macro", "--search-metric", "accuracy"], "accuracy"),
                            ([], "balanced_accuracy")):
        out = tmp_path / f"{expected}.skops"
        assert main(["fit", cache, "--layer", "global_pool", "--search", "--grid", "logreg:clf__C=0.5,2",
                     *extra, "-o", str(out)]) == 0
        assert f"-> {out}" in capsys.readouterr().out
        assert load_bundle(str(out)).params["search_metric"] == expected


def test_public_cache_to_feature_sets(cache, tmp_path):
    import shutil

    import numpy as np

    from featx.extract import read_cache
    from featx.pipelines import feature_sets_from_cache

    data = read_cache(cache)
    (fs,) = feature_sets_from_cache(data, ["global_pool"])
    assert fs.name == "colours/global_pool" and fs.class_names == ["blue", "green", "red"]
    assert np.array_equal(fs.X, data.features["global_pool"]) and np.array_equal(fs.y, data.labels)
    assert list(fs.keys) == list(data.hashes) and fs.meta["layer"] == "global_pool" and fs.meta["feature_dim"] == 1280
    assert [s.name for s in feature_sets_from_cache(data, prefix="")] == ["blocks.1", "global_pool"]
    # several caches: the sets are named by file
    other = str(tmp_path / "other.h5")
    shutil.copy(cache, other)
    names = [s.name for s in load_feature_sets([cache, other], ["global_pool"])]
    assert names == ["colours/global_pool", "other/global_pool"]
    assert [s.name for s in load_feature_sets([cache])] == ["efficientnet_lite0/blocks.1", "efficientnet_lite0/global_pool"]
