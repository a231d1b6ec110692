"""Caches with exact copies and near-duplicates: ``featx cv``/``fit`` accept them (copies grouped,
conflicting copies left out or kept), ``featx cv --dedupe`` and ``featx audit`` (its --json contract)."""

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image, ImageOps

from helpers.pipeline import listed_images

from featx.classify import compare, make_splitter, straddling
from featx.extract import extract, read_cache
from featx.pipelines import load_feature_sets
from featx.pipelines.stages._dedupe import apply_dedupe
from featx.pipelines.cli import main

TINTS = {"warm": (60, 0, -40), "cool": (-40, 0, 60)}


def _photo(rng, tint) -> Image.Image:
    """A distinct little picture: a random 6x6 grid of colours, upsampled, tinted by class."""
    grid = rng.integers(0, 200, size=(6, 6, 3)) + np.array(tint)
    arr = np.kron(np.clip(grid, 0, 255), np.ones((8, 8, 1))).astype(np.uint8)
    return Image.fromarray(arr)


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    src = root / "images"
    rng = np.random.default_rng(0)
    for cls, tint in TINTS.items():
        os.makedirs(src / cls)
        for i in range(10):
            _photo(rng, tint).save(src / cls / f"{cls}_{i:02d}.png")
    shutil.copy(src / "warm" / "warm_00.png", src / "warm" / "copy_of_warm_00.png")  # same class
    shutil.copy(src / "cool" / "cool_01.png", src / "warm" / "copy_of_cool_01.png")  # across classes
    with Image.open(src / "cool" / "cool_02.png") as im:
        ImageOps.mirror(im).save(src / "cool" / "mirror_of_cool_02.png")  # lossless: the features are random (weights none), so only the hash can tell
    cache = str(root / "messy.h5")
    extract(str(src), cache, weights="none", workers=0, layers=["blocks.1", "global_pool"], progress=False)
    return cache


def _rows(json_path) -> set:
    return {r["n_samples"] for r in json.loads(open(json_path).read())}


def test_cv_and_fit_accept_copies_and_say_what_they_did(messy, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["cv", messy, "--heads", "logreg", "--folds", "3", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "4 rows are exact copies (same sha256) in 2 cluster(s)" in err
    assert "left out of training and evaluation" in err and "cool/cool_01.png" in err and "--conflicts keep" in err
    assert _rows(out) == {21}  # 23 rows less the two conflicting copies
    assert main(["cv", messy, "--heads", "logreg", "--folds", "3", "--conflicts", "keep", "--json", str(out), "--overwrite"]) == 0
    assert "kept as labelled" in capsys.readouterr().err and _rows(out) == {23}
    bundle = tmp_path / "b.skops"
    assert main(["fit", messy, "--layer", "global_pool", "-o", str(bundle)]) == 0
    captured = capsys.readouterr()
    assert "fitted logreg on 21 rows" in captured.out and "exact copies" in captured.err
    with pytest.raises(SystemExit) as exc:
        main(["cv", messy, "--conflicts", "maybe"])
    assert exc.value.code == 2
    assert "invalid choice: 'maybe'" in capsys.readouterr().err


def test_exact_copies_never_straddle_folds(messy):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fsets = load_feature_sets([messy], ["global_pool"], conflicts="keep")
    data = read_cache(messy)
    index = {p: i for i, p in enumerate(data.paths)}
    copy = [index["warm/warm_00.png"], index["warm/copy_of_warm_00.png"]]
    result = compare(fsets, ["logreg"], folds=3).results[0]
    assert straddling([np.array(copy)], result.fold_indices) == 0


def test_dedupe_group_keeps_near_copies_in_one_fold(messy, capsys):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fsets = load_feature_sets([messy], ["global_pool"])
    grouped, note = apply_dedupe(fsets, "group", folds=3, repeats=1, seed=0)
    assert "near-duplicate cluster(s) (features and image hashes) kept in one CV group" in note
    data = read_cache(messy)
    mirror, original = data.paths.index("cool/mirror_of_cool_02.png"), data.paths.index("cool/cool_02.png")
    keys = list(fsets[0].keys)
    rows = np.array([keys.index(data.hashes[mirror]), keys.index(data.hashes[original])])
    assert grouped[0].groups[rows[0]] == grouped[0].groups[rows[1]]
    for seed in range(4):
        splits = make_splitter(grouped[0].y, grouped[0].groups, folds=3, seed=seed)
        assert straddling([rows], splits) == 0
    assert main(["cv", messy, "--heads", "logreg", "--folds", "3", "--dedupe", "group"]) == 0
    assert "dedupe group:" in capsys.readouterr().err


def test_audit_json_contract(messy, tmp_path, capsys):
    out = tmp_path / "audit.json"
    assert main(["audit", messy, "--folds", "3", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "exact duplicates: 2 cluster(s)" in printed and "layer global_pool" in printed and f"wrote {out}" in printed
    rec = json.loads(out.read_text())
    assert list(rec) == ["exact_duplicates", "near_duplicates", "label_issues", "outliers", "calibration", "leak",
                         "image_issues"]
    assert all(set(x) == {"path", "issue", "score"} for x in rec["image_issues"])
    assert sorted(map(sorted, rec["exact_duplicates"])) == [["cool/cool_01.png", "warm/copy_of_cool_01.png"],
                                                           ["warm/copy_of_warm_00.png", "warm/warm_00.png"]]
    # the one near-duplicate cluster is the mirrored pair (the exact copies are reported as exact, not near)
    assert [sorted(c["paths"]) for c in rec["near_duplicates"]] == [["cool/cool_02.png", "cool/mirror_of_cool_02.png"]]
    for c in rec["near_duplicates"]:  # random weights: the cosine can be anything, the hash decides
        assert -1 <= c["min_similarity"] <= 1 and c["pairs"]
        assert all(set(p) == {"paths", "cosine", "hash_distance", "mirrored"} for p in c["pairs"])
    (mirror,) = [c for c in rec["near_duplicates"] if "cool/mirror_of_cool_02.png" in c["paths"]]
    assert mirror["pairs"][0]["mirrored"] is True and mirror["pairs"][0]["hash_distance"] <= 4
    for issue in rec["label_issues"]:
        assert set(issue) == {"path", "given", "suggested", "score"} and issue["given"] != issue["suggested"]
    # the conflicting copy (kept for the audit) is the surest suspect: a cool picture labelled warm; the
    # features come from seeded random weights, which also put cool_06 on the warm side
    assert [{k: v for k, v in i.items() if k != "score"} for i in rec["label_issues"]] == [
        {"path": "warm/copy_of_cool_01.png", "given": "warm", "suggested": "cool"},
        {"path": "cool/cool_06.png", "given": "cool", "suggested": "warm"}], rec["label_issues"]
    assert rec["label_issues"][0]["score"] > rec["label_issues"][1]["score"]  # ranked, surest first
    assert {o["path"] for o in rec["outliers"]} <= set(read_cache(messy).paths) and 0 <= rec["calibration"]["ece"] <= 1
    assert {"straddling_clusters", "score_grouped", "score_ungrouped", "metric", "difference", "interval"} <= set(rec["leak"])
    assert main(["audit", messy, "--json", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_run_groups_copies_and_reports_the_audit(messy, tmp_path, capsys):
    from helpers.pipeline import tiny_spec

    from featx.pipelines._job import run_job

    source = os.path.join(os.path.dirname(messy), "images")
    spec = tiny_spec(source, str(tmp_path / "out"), cv={"dedupe": "group", "nested": False},
                     classify={"heads": ["logreg"], "grids": {}}, report={"learning_curve": False, "pca_plot": False})
    result = run_job(spec, progress=True)
    said = capsys.readouterr().err.splitlines()
    near = result.audits["colours"]["near"]
    n_near = len(near)
    # one cluster: the mirrored pair (the same-class exact copies are exact clusters, the conflicting ones dropped)
    assert [sorted(result.audits["colours"]["paths"][i] for i in c["rows"]) for c in near] == [
        ["cool/cool_02.png", "cool/mirror_of_cool_02.png"]]
    # the cv header says what the folds are: grouped by the clusters, not "stratified"
    assert f"[cv] cross-validating 2 configuration(s) (grouped by {n_near} near-duplicate cluster(s), 3 folds)" in said
    assert f"  colours: dropped 2 exact copies with conflicting labels; {n_near} near-duplicate cluster(s) grouped " \
           "(each in one CV group)" in said
    notes = " ".join(result.notes)
    assert "4 rows are exact copies" in notes and "left out of training" in notes and "near-duplicate cluster(s)" in notes
    audit = result.audits["colours"]
    paths = audit["paths"]
    assert len(paths) == 21 and "warm/copy_of_cool_01.png" not in paths  # the conflicting copies are out
    splits = result.comparisons["colours"].splits
    clusters = [np.array(c) for c in audit["exact"]] + [np.array(c["rows"]) for c in audit["near"]]
    assert any({paths[i] for i in c} == {"cool/cool_02.png", "cool/mirror_of_cool_02.png"} for c in clusters)
    assert straddling(clusters, splits) == 0 and audit["leak"]["straddling_clusters"] == 0
    lk = audit["leak"]  # featx audit's paired-fold score: the plain folds, straddling members moved
    # of the two clusters (the same-class exact pair, the mirrored pair) the seeded plain folds split one; grouped, none
    assert lk["paired"] is True and lk["straddling_plain"] == 1 and lk["interval"][0] <= lk["difference"] <= lk["interval"][1]
    doc = json.loads(open(result.results_path).read())["audit"]["colours"]
    assert list(doc) == ["exact_duplicates", "near_duplicates", "label_issues", "outliers", "calibration", "leak",
                         "image_issues"]
    assert doc["exact_duplicates"] == [["warm/copy_of_warm_00.png", "warm/warm_00.png"]]
    # one shape: results.json holds the audit stage's findings (the built-in checks' featx audit --json
    # shape), which are the row-keyed results named by path
    assert doc == json.loads(json.dumps(audit["findings"]))
    names = audit["class_names"]
    assert doc["exact_duplicates"] == [[paths[i] for i in c] for c in audit["exact"]]
    assert [c["paths"] for c in doc["near_duplicates"]] == [[paths[i] for i in c["rows"]] for c in audit["near"]]
    assert doc["label_issues"] == [{"path": paths[x["row"]], "given": names[x["given"]], "suggested": names[x["suggested"]],
                                    "score": round(x["score"], 4)} for x in audit["label_issues"]]
    assert doc["outliers"] == [{"path": paths[i], "score": sc} for i, sc in zip(audit["outliers"], audit["outlier_scores"])]
    assert doc["image_issues"] == [{"path": paths[x["row"]], "issue": x["issue"], "score": round(x["score"], 4)}
                                   for x in audit["image_issues"]]
    page = open(result.report_path, encoding="utf-8").read()
    assert "id='audit'" in page and "Duplicate clusters" in page and "Suspected label errors" in page
    assert "leak: ungrouped minus grouped" in page and "95% interval" in page and "Image-quality issues" in page
    assert "mirror_of_cool_02.png: cosine" in page and "mirrored" in page  # the accepted pair with its evidence
    # one thumbnail per listed image: every member of the exact and near clusters, each suspect, outlier and
    # image issue (the default budget is not spent: nothing is listed by path only)
    listed = listed_images(audit["findings"])
    assert page.count("src='data:image/jpeg;base64,") == listed and "listed by path only" not in page and "t-SNE" in page


def test_run_says_what_dedupe_warn_did(messy, tmp_path, capsys):
    from helpers.pipeline import tiny_spec

    from featx.pipelines._job import run_job

    source = os.path.join(os.path.dirname(messy), "images")
    spec = tiny_spec(source, str(tmp_path / "out"), cv={"dedupe": "warn", "nested": False},
                     classify={"heads": ["logreg"], "grids": {}}, report={"learning_curve": False, "pca_plot": False})
    result = run_job(spec, progress=True)
    said = capsys.readouterr().err.splitlines()
    n_near = len(result.audits["colours"]["near"])
    assert n_near == 1  # the mirrored pair
    assert "[cv] cross-validating 2 configuration(s) (stratified, 3 folds)" in said
    assert f"  colours: dropped 2 exact copies with conflicting labels; {n_near} near-duplicate cluster(s) found, " \
           "not grouped (cv.dedupe = 'warn')" in said


def test_thumbnail_budget_bounds_the_embedded_bytes(messy):
    from featx.pipelines.report._audit import Thumbs

    root = os.path.join(os.path.dirname(messy), "images")
    small = Thumbs(root, budget=3000)
    figures = [small.figure(f"warm/warm_{i:02d}.png", "x") for i in range(10)]
    embedded = sum("base64," in f for f in figures)
    spent = sum(len(f.split("base64,", 1)[1].split("'", 1)[0]) for f in figures if "base64," in f)
    assert 1 <= embedded < 10 and small.skipped == 10 - embedded and small.left == 3000 - spent
    assert "warm/warm_09.png" in figures[-1]  # listed by path once the budget is spent
    assert "base64," not in Thumbs(root).figure("warm/missing.png", "x")


def test_default_check_warns_and_is_skipped_on_large_tables(messy, monkeypatch):
    import warnings

    from featx.pipelines.stages import _dedupe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fsets = load_feature_sets([messy], ["global_pool"])
    same, note = apply_dedupe(fsets, "warn", folds=3, repeats=1, seed=0)
    # two near-duplicate clusters (the same-class exact copies and the mirrored pair); with seed 0, 3 folds, one straddles
    assert same is fsets and note == ("1 of 2 near-duplicate cluster(s) fall on both sides of a fold, which can inflate "
                                      "the scores; pass --dedupe group to keep each cluster in one CV group")
    monkeypatch.setattr(_dedupe, "WARN_MAX_ROWS", 5)
    same, note = apply_dedupe(fsets, "warn", folds=3, repeats=1, seed=0)
    assert same is fsets and "near-duplicate check skipped: 21 rows is over 5" in note


def test_image_hashes_read_only_the_rows_asked_for(messy):
    from featx.extract import phash_files
    from featx.pipelines._glue import image_hashes, source_root

    root = source_root(messy)
    assert os.path.samefile(root, os.path.join(os.path.dirname(messy), "images"))
    some = read_cache(messy).paths[::3]
    got, want = image_hashes(messy, some), phash_files(some, root)
    assert len(got[0]) == len(some) and got[2].all()
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_audit_refuses_a_negative_top(messy, capsys):
    assert main(["audit", messy, "--top", "-1"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --top must be 0 or more (items of each check printed); got -1\n"


def test_manifest_round_trip_leaves_no_warnings(messy, tmp_path, capsys):
    import csv

    manifest = tmp_path / "clean.csv"
    assert main(["audit", messy, "--folds", "3", "--write-manifest", str(manifest)]) == 0
    assert "dropped (listed in" in capsys.readouterr().out
    rows = list(csv.DictReader(open(manifest)))
    dropped = list(csv.DictReader(open(tmp_path / "clean.dropped.csv")))
    names = {os.path.basename(r["path"]) for r in rows}
    why = {os.path.basename(r["path"]): r["reason"] for r in dropped}
    assert why["cool_01.png"] == why["copy_of_cool_01.png"] == "exact copy with a conflicting label"
    assert ("warm_00.png" in names) != ("copy_of_warm_00.png" in names)  # one copy of the exact pair kept
    assert len(rows) + len(dropped) == 23 and not names & set(why)
    group = {os.path.basename(r["path"]): r["group"] for r in rows}
    assert group["cool_02.png"] == group["mirror_of_cool_02.png"] != ""
    cache = str(tmp_path / "clean.h5")
    extract(str(manifest), cache, weights="none", workers=0, layers=["blocks.1", "global_pool"], progress=False)
    capsys.readouterr()
    code = main(["cv", cache, "--heads", "logreg", "--folds", "3"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "exact copies" not in err and "near-duplicate" not in err, err
