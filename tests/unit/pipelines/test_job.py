"""run_job end to end on tiny generated images: results, caches reused on rerun, the report."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import time
import tomllib

import numpy as np
import pytest
from PIL import Image

from featx.classify import FeatureSet, cross_validate_head, make_splitter, stratified_subset
from featx.extract import read_cache
from featx.classify import most_common_params
from featx.pipelines._job import JobResult, run_job

from helpers.testdata import write_colour_dataset
from helpers.pipeline import run_tiny, tiny_spec


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    t0 = time.perf_counter()
    result = run_tiny(root)
    TINY_WALL.append(time.perf_counter() - t0)  # the test's own clock around the whole job
    return root, result


TINY_WALL: list[float] = []
# the tiny spec turns every stage on ('report' comes after 'total' in the dict but is timed inside it)
TINY_STAGES = {"validate", "extract", "load", "cv", "audit", "explore", "learning_curve", "pca", "logme", "report", "total"}


def test_tiny_study_scores_every_configuration(tiny):
    root, result = tiny
    assert isinstance(result, JobResult)
    assert [(r["layer"], r["head"]) for r in result.records] == [
        ("blocks.1", "logreg"), ("blocks.1", "centroid"), ("global_pool", "logreg"), ("global_pool", "centroid")]
    assert result.records[2]["layer_as_written"] == "penultimate"
    assert result.cv_computed == 4 and result.cv_cached == 0
    (ext,) = result.extractions
    assert ext["extracted"] == 18 and ext["rows"] == 18 and ext["failed"] == 0
    # separable colour classes: well above chance (1/3) even with random weights
    best = result.best_record
    assert best["best"] is True and sum(r["best"] for r in result.records) == 1
    assert best["balanced_accuracy_mean"] >= 0.9
    assert best["balanced_accuracy_mean"] == max(r["balanced_accuracy_mean"] for r in result.records)
    for r in result.records:
        assert r["n_folds"] == 3 and r["n_samples"] == 18
        assert r["balanced_accuracy_ci95_low"] <= r["balanced_accuracy_mean"] <= r["balanced_accuracy_ci95_high"]
    logreg = [r for r in result.records if r["head"] == "logreg"]
    assert all(len(r["best_params"]) == 3 and set(r["params_mode"]) == {"clf__C"} for r in logreg)
    assert set(result.timings) == TINY_STAGES, sorted(result.timings)
    # seconds vary with the machine: each stage took some time, the stages run one after the other inside
    # 'total', and 'total' fits in the wall time the test measured around run_job
    staged = [t for k, t in result.timings.items() if k != "total"]
    assert all(t > 0 for t in result.timings.values()), result.timings
    assert sum(staged) <= result.timings["total"] <= TINY_WALL[0], (result.timings, TINY_WALL)


def test_records_match_classify_on_the_cached_features(tiny):
    """The pipeline's numbers are featx.classify's on the cached arrays with the same folds."""
    root, result = tiny
    data = read_cache(result.extractions[0]["cache"])
    order = np.argsort(np.array(data.paths), kind="stable")
    fs = FeatureSet("x", data.features["blocks.1"][order], data.labels[order], data.class_names)
    splits = make_splitter(fs.y, folds=3, seed=0)
    direct = cross_validate_head(fs, "logreg", nested=True, inner_folds=2, grid={"clf__C": [0.1, 1.0]}, splits=splits)
    rec = next(r for r in result.records if r["layer"] == "blocks.1" and r["head"] == "logreg")
    assert rec["balanced_accuracy_mean"] == pytest.approx(direct.metrics["balanced_accuracy"]["mean"])
    assert rec["accuracy_std"] == pytest.approx(direct.metrics["accuracy"]["std"])
    assert rec["best_params"] == direct.best_params


def test_rerun_reuses_every_cache_and_adding_work_only_does_the_new_part(tmp_path):
    first = run_tiny(tmp_path)
    cache = first.extractions[0]["cache"]
    stamp = os.stat(cache).st_mtime_ns
    second = run_tiny(tmp_path)
    assert second.extractions[0]["extracted"] == 0 and second.extractions[0]["reused"] == 18
    assert os.stat(cache).st_mtime_ns == stamp
    assert second.cv_computed == 0 and second.cv_cached == 4
    assert all(r["cached"] for r in second.records)
    assert [r["balanced_accuracy_mean"] for r in second.records] == [r["balanced_accuracy_mean"] for r in first.records]
    assert second.learning_curves["colours"]["cached"] is True
    assert second.extractions[0]["first_extraction"]["extracted"] == 18

    # one more head: only that head is fitted (on both layers), nothing is extracted
    third = run_tiny(tmp_path, classify={"heads": ["logreg", "centroid", "knn"]})
    assert third.extractions[0]["extracted"] == 0 and os.stat(cache).st_mtime_ns == stamp
    assert third.cv_computed == 2 and third.cv_cached == 4
    assert sorted(r["head"] for r in third.records if not r["cached"]) == ["knn", "knn"]

    # one more backbone: only that backbone is extracted
    spec_bb = tiny_spec("x", "y")["backbones"] + [
        {"name": "r18", "model": "resnet18", "weights": "none", "layers": ["layer2", "penultimate"]}]
    fourth = run_tiny(tmp_path, backbones=spec_bb)
    by_bb = {e["backbone"]: e for e in fourth.extractions}
    assert by_bb["lite0"]["extracted"] == 0 and by_bb["r18"]["extracted"] == 18
    assert by_bb["lite0"]["cache"] != by_bb["r18"]["cache"]
    assert fourth.cv_computed == 4 and fourth.cv_cached == 4
    assert {r["backbone"] for r in fourth.records if not r["cached"]} == {"r18"}

    # other CV settings: everything refitted, still nothing extracted
    fifth = run_tiny(tmp_path, cv={"seed": 1})
    assert fifth.extractions[0]["extracted"] == 0 and fifth.cv_computed == 4 and fifth.cv_cached == 0


def test_changed_extraction_settings_get_their_own_cache(tmp_path):
    a = run_tiny(tmp_path, classify={"heads": ["centroid"], "grids": {}})
    b = run_tiny(tmp_path, classify={"heads": ["centroid"], "grids": {}}, extraction={"dtype": "float32"})
    assert a.extractions[0]["cache"] != b.extractions[0]["cache"]
    assert b.extractions[0]["extracted"] == 18
    assert read_cache(b.extractions[0]["cache"]).meta["dtype"] == "float32"
    # an added image is extracted alone (featx.extract's incremental update), results refitted
    src = os.path.join(str(tmp_path), "colours")
    Image.open(os.path.join(src, "red", "red_001.png")).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
        os.path.join(src, "red", "red_new.png"))
    c = run_tiny(tmp_path, classify={"heads": ["centroid"], "grids": {}})
    assert c.extractions[0]["cache"] == a.extractions[0]["cache"]
    assert c.extractions[0]["extracted"] == 1 and c.extractions[0]["reused"] == 18
    assert c.cv_computed == 2 and c.records[0]["n_samples"] == 19


def test_head_pca_reaches_the_pipelines(tmp_path):
    bb = tiny_spec("x", "y")["backbones"]
    bb[0]["layers"] = ["blocks.1"]
    result = run_tiny(tmp_path, backbones=bb, classify={"head_pca": {"logreg": 4}, "grids": {"logreg": {"clf__C": [1.0]}}},
                      report={"learning_curve": False, "pca_plot": False})
    by_head = {(r["layer"], r["head"]): r for r in result.records}
    assert by_head[("blocks.1", "logreg")]["pca"] == 4 and by_head[("blocks.1", "centroid")]["pca"] is None
    r = result.comparisons["colours"].get("lite0:blocks.1", "logreg")
    assert r.config["pca"] == 4


def test_grouped_cv_keeps_groups_apart(tmp_path):
    src = write_colour_dataset(tmp_path / "imgs", per_class=6)
    rows = ["path,label,group"]
    for cls in ("red", "green", "blue"):
        for i, name in enumerate(sorted(os.listdir(os.path.join(src, cls)))):
            rows.append(f"{cls}/{name},{cls},{cls}-subject{i % 3}")
    manifest = tmp_path / "imgs" / "m.csv"
    manifest.write_text("\n".join(rows) + "\n")
    spec = tiny_spec(str(manifest), str(tmp_path / "out"), cv={"scheme": "grouped", "folds": 3},
                     classify={"heads": ["centroid"], "grids": {}})
    spec["backbones"][0]["layers"] = ["blocks.1"]
    result = run_job(spec, progress=False)
    groups = np.array([r.split(",")[2] for r in rows[1:]])
    paths = np.array([r.split(",")[0] for r in rows[1:]])
    groups = groups[np.argsort(paths, kind="stable")]
    comparison = result.comparisons["colours"]
    for train, test in comparison.splits:
        assert not set(groups[train]) & set(groups[test])
    assert result.datasets["colours"]["groups"] == 9


def test_report_html_has_the_table_and_decodable_images(tiny):
    root, result = tiny
    with open(result.report_path, encoding="utf-8") as fh:
        page = fh.read()
    table = re.search(r"<table class='results'>.*?</table>", page, re.S).group(0)
    rows = re.findall(r"<tr( class='best')?><td class='num'>\d+", table)
    assert len(rows) == 4 and [bool(r) for r in rows].count(True) == 1
    best = result.best_record
    assert f"<b>{best['layer']}</b> / head <b>{best['head']}</b>" in page
    for r in result.records:
        assert f"{r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_std']:.3f}" in table
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 7  # layers, confusion, learning curve, PCA, timing; the audit's reliability diagram and map
    for b64 in images:
        img = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
        img.load()
        assert img.format == "PNG" and img.width > 300 and img.height > 150
        assert np.asarray(img.convert("L")).std() > 5  # not blank
    assert "featx run tiny.toml" in page  # the command
    shown = re.search(r"<p>Spec \(&lt;dict&gt;\):</p><pre>(.*?)</pre>", page, re.S).group(1)
    assert tomllib.loads(html.unescape(shown)) == dict(result.spec.raw)  # the spec, as TOML that reads back
    assert "http://" not in page.replace("http://www.w3.org", "") and "<script" not in page  # self-contained
    assert sorted(os.listdir(os.path.join(result.output, "plots"))) == [
        "colours-confusion.png", "colours-layers.png", "colours-learning-curve.png", "colours-pca.png", "map-colours.png",
        "reliability-colours.png", "timing.png"]


def test_results_json_is_strict_and_complete(tiny):
    root, result = tiny

    def no_constants(name):
        raise AssertionError(f"results.json holds {name}")

    with open(result.results_path, encoding="utf-8") as fh:
        doc = json.load(fh, parse_constant=no_constants)
    assert doc["format"] == "featx.results" and doc["command"] == "featx run tiny.toml"
    assert len(doc["records"]) == 4 and doc["best"]["colours"]["feature_set"] == result.best_record["feature_set"]
    assert doc["datasets"]["colours"]["counts"] == {"blue": 6, "green": 6, "red": 6}
    sha = doc["backbones"]["lite0"]["provenance"]["weights_sha256"]
    assert re.fullmatch(r"[0-9a-f]{64}", sha) and sha == result_cache_sha(doc), sha  # the cache's own record
    assert "resize shorter side" in doc["backbones"]["lite0"]["preprocessing"]
    assert doc["spec"]["cv"]["folds"] == 3 and doc["spec"]["classify"]["pca"] == "off"
    assert doc["extractions"][0]["extracted"] == 18
    assert doc["timings"] == result.timings  # the seconds in the file are the ones the job measured
    curve = doc["learning_curves"]["colours"]
    assert curve["fractions"] == [0.5, 1.0] and curve["train_sizes"][0] < curve["train_sizes"][1]
    pca = doc["pca"]["colours"]["lite0:global_pool"]
    assert pca["dim"] == 1280 and pca["cumulative"][-1] == pytest.approx(1.0, abs=1e-6)


def test_stratified_subset_keeps_every_class():
    y = np.array([0] * 50 + [1] * 10 + [2] * 3)
    train = np.arange(len(y))
    rng = np.random.RandomState(0)
    sub = stratified_subset(train, y, 0.2, rng)
    assert np.bincount(y[sub]).tolist() == [10, 2, 1]
    assert set(sub) <= set(train) and len(set(sub)) == len(sub)
    assert np.array_equal(stratified_subset(train, y, 1.0, rng), train)


def test_most_common_params():
    assert most_common_params([]) == ({}, 0)
    params = [{"clf__C": 0.1}, {"clf__C": 1.0}, {"clf__C": 0.1}]
    assert most_common_params(params) == ({"clf__C": 0.1}, 2)


def result_cache_sha(doc):
    (ext,) = doc["extractions"]
    return read_cache(ext["cache"]).meta["weights_sha256"]
