"""featx explore without a browser: one-line errors, the audit findings mapped to rows, the
image_issues key read when present, sprite sheets through extract's decode path, a page with no
network address outside its data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from featx.extract import CacheData


def featx(*args):
    return subprocess.run([sys.executable, "-m", "featx.pipelines", *map(str, args)], capture_output=True, text=True, timeout=300)


def one_error_line(done, *words):
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [l for l in done.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert "Traceback" not in done.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_missing_cache_bad_destination_and_audit_are_one_line(tmp_path):
    one_error_line(featx("explore", tmp_path / "nope.h5", "-o", tmp_path / "e.html"), "does not exist", "featx extract")
    cache = tmp_path / "c.h5"
    cache.write_bytes(b"")  # the destination is checked before the cache is opened
    one_error_line(featx("explore", cache, "-o", tmp_path / "no" / "e.html"), "does not exist", "-o")
    (tmp_path / "e.html").write_text("x")
    one_error_line(featx("explore", cache, "-o", tmp_path / "e.html"), "--overwrite")
    one_error_line(featx("explore", cache, "-o", tmp_path), "is a folder")
    one_error_line(featx("explore", cache, "-o", tmp_path / "f.html", "--audit", tmp_path / "a.json"), "--audit", "featx audit --json")
    (tmp_path / "a.json").write_text("{not json")
    one_error_line(featx("explore", cache, "-o", tmp_path / "f.html", "--audit", tmp_path / "a.json"), "not readable JSON")


def test_unknown_layer_is_one_line(hymenoptera_cache, tmp_path):
    one_error_line(featx("explore", hymenoptera_cache, "-o", tmp_path / "e.html", "--layer", "nope", "--no-audit"),
                   "layer 'nope' is not in cache")


def _data(paths, labels, classes, X=None):
    n = len(paths)
    X = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32) if X is None else X
    return CacheData(path="synthetic.h5", features={"f": X}, labels=np.asarray(labels), class_names=classes,
                     paths=list(paths), groups=None, splits=[""] * n, hashes=np.array([f"{i:064x}" for i in range(n)]),
                     rows=np.arange(n), meta={"model": "synthetic"})


def test_findings_land_on_their_rows_and_image_issues_only_when_present():
    from featx.pipelines.explore._data import page_data

    paths = [f"c{i % 2}/img{i}.jpg" for i in range(10)]
    data = _data(paths, [i % 2 for i in range(10)], ["a", "b"])
    findings = {"label_issues": [{"path": "c1/img3.jpg", "given": "b", "suggested": "a", "score": 0.12}],
                "outliers": [{"path": "/root/c0/img4.jpg", "score": 2.5}],  # absolute under the root
                "exact_duplicates": [["c0/img0.jpg", "c0/img2.jpg"]],
                "near_duplicates": [{"paths": ["c1/img5.jpg", "c1/img7.jpg"], "min_similarity": 0.98}]}
    xy = np.random.default_rng(1).random((10, 2))
    doc = page_data(data, "f", xy, root="/root", findings=findings, predictions={"c0/img0.jpg": (1, 0.9)})
    assert doc["issue"][3] == "a" and sum(bool(v) for v in doc["issue"]) == 1
    assert doc["outlier"] == [1 if i == 4 else 0 for i in range(10)]
    assert doc["dup"][0] == doc["dup"][2] == 0 and doc["dup"][5] == doc["dup"][7] == 1 and doc["dup"][1] == -1
    assert doc["image_issue"] is None  # the audit has no image_issues key: the filter is hidden
    assert doc["pred"][0] == 1 and doc["pred"][1] == -1
    assert doc["k"] == 8 and len(doc["nn"]) == 80
    X = data.features["f"] / np.linalg.norm(data.features["f"], axis=1, keepdims=True)
    cos = X @ X.T
    np.fill_diagonal(cos, -np.inf)
    assert doc["nn"][:8] == np.argsort(-cos[0])[:8].tolist()  # row 0's neighbours, nearest first, itself left out
    findings["image_issues"] = [{"path": "c0/img6.jpg", "issue": "blurry", "score": 0.1},
                                {"path": "c0/img6.jpg", "issue": "dark", "score": 0.2}, {"path": "c1/img9.jpg", "issue": "small"}]
    doc = page_data(data, "f", xy, root="/root", findings=findings)
    assert doc["image_issue"][6] == "blurry, dark" and doc["image_issue"][9] and not doc["image_issue"][8]


def test_sprite_sheets_decode_real_images_and_leave_broken_ones_grey(colour_dataset, tmp_path):
    from featx.pipelines.explore._sprites import COLUMNS, sprite_sheets

    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(colour_dataset) for f in fs)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    sheets, ok = sprite_sheets(files + [str(broken)], px=32, progress=False)
    assert ok == len(files) and len(sheets) == 1
    img = np.asarray(Image.open(__import__("io").BytesIO(sheets[0])).convert("RGB")).astype(int)
    assert img.shape == (32 * ((len(files) + 1 + COLUMNS - 1) // COLUMNS), 32 * COLUMNS, 3)
    first = img[8:24, 8:24].mean(axis=(0, 1))  # files[0] is blue_000: its cell is blue
    assert first[2] > 150 and first[0] < 90
    j = len(files)
    cell = img[(j // COLUMNS) * 32 + 4:(j // COLUMNS) * 32 + 28, (j % COLUMNS) * 32 + 4:(j % COLUMNS) * 32 + 28]
    assert np.abs(cell - 235).max() < 12  # the inside of the broken file's cell stays grey


def test_page_has_no_network_address_outside_its_data(tmp_path, colour_dataset):
    from featx.pipelines.explore._build import build_explorer

    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(colour_dataset) for f in fs)
    data = _data([os.path.relpath(f, colour_dataset) for f in files], [0] * len(files), ["x"])
    data.paths[0] = "https://example.org/looks-like-a-url.jpg"  # data may hold anything
    out = str(tmp_path / "e.html")
    info = build_explorer(data, "f", out, root=colour_dataset, map_method="pca", progress=False, say=lambda *_: None)
    assert info["thumbs"] == "inline" and info["thumbnails"] == len(files) - 1
    page = open(out, encoding="utf-8").read()
    start = page.index("<script type='application/json' id='featx-data'>")
    end = page.index("</script>", start)
    doc = json.loads(page[start:end].split(">", 1)[1])
    assert doc["paths"][0].startswith("https://") and doc["n"] == len(files)
    outside = page[:start] + page[end:]
    assert not re.findall(r"https?://", outside), re.findall(r".{30}https?://.{30}", outside)
    assert not re.search(r"<(link|iframe)\b|\bimport\s*\(|fetch\(|XMLHttpRequest", outside)
    info = build_explorer(data, "f", out, root=colour_dataset, map_method="pca", thumbs="folder", progress=False, say=lambda *_: None)
    assert info["thumbs"] == "folder" and os.listdir(str(tmp_path / "e_files")) == ["sheet-0000.jpg"]


def test_audit_json_and_predictions_csv_reach_the_page(hymenoptera_cache, tmp_path):
    from featx.extract import read_cache

    data = read_cache(hymenoptera_cache)
    a, b = data.paths[3], data.paths[7]
    (tmp_path / "audit.json").write_text(json.dumps({
        "label_issues": [{"path": a, "given": "ants", "suggested": "bees", "score": 0.05}],
        "outliers": [{"path": b, "score": 1.5}], "exact_duplicates": [], "near_duplicates": [],
        "image_issues": [{"path": b, "issue": "dark", "score": 0.9}]}))
    with open(tmp_path / "preds.csv", "w") as fh:  # the shape of featx predict's CSV
        fh.write("path,predicted,p_ants,p_bees\n" + "".join(f"{p},bees,0.200000,0.800000\n" for p in data.paths))
    out = tmp_path / "e.html"
    done = featx("explore", hymenoptera_cache, "-o", out, "--audit", tmp_path / "audit.json", "--predictions",
                 tmp_path / "preds.csv", "--map", "pca", "--thumbs", "none")
    assert done.returncode == 0, done.stderr
    assert f"{len(data.paths)} points, pca map" in done.stdout
    page = out.read_text(encoding="utf-8")
    start = page.index("id='featx-data'>") + len("id='featx-data'>")
    doc = json.loads(page[start:page.index("</script>", start)])
    assert doc["issue"][3] == "bees" and sum(map(bool, doc["issue"])) == 1
    assert doc["outlier"][7] == 1 and doc["image_issue"][7] == "dark" and sum(map(bool, doc["image_issue"])) == 1
    assert doc["pred"] == [1] * len(data.paths) and doc["scores"]["confidence"][0] == 0.8
    assert doc["thumbs"] is None and not (tmp_path / "e_files").exists()
