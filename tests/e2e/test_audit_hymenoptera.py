"""``featx audit`` on a messy hymenoptera built in tmp_path from ../shared: planted exact copies
(same class and across classes), 80 near-duplicates (JPEG quality 50-70, resize to 80-90%, crops
up to 4%, mirror, and pairs of these) and 5% label flips, extracted with the default backbone.

The near-duplicate thresholds were calibrated on another planted set (seed 0, 40 copies); this
one (seed 1) is held out. Measured here: exact recall 1.0; near-duplicate recall 1.0 (80/80),
precision 1.0; 19 of the 20 flips within the top 30 label issues (confident learning with
prune-and-rescore, the default)."""

import json

import numpy as np

from featx.classify import make_splitter, straddling
from featx.extract import extract, read_cache
from featx.pipelines import load_feature_sets
from featx.pipelines.stages._dedupe import apply_dedupe
from featx.pipelines.cli import main

from helpers.audit_planted import build_planted


def _pairs(clusters):
    out = set()
    for c in clusters:
        c = sorted(c)
        out |= {(c[i], c[j]) for i in range(len(c)) for j in range(i + 1, len(c))}
    return out


def test_audit_finds_planted_copies_and_flips(tmp_path, capsys, shared_data):
    root = str(tmp_path / "messy")
    truth = build_planted(shared_data("hymenoptera"), root, n_near=80, seed=1)
    cache = str(tmp_path / "messy.h5")
    extract(root, cache, progress=False)
    out = tmp_path / "audit.json"
    assert main(["audit", cache, "--json", str(out)]) == 0
    rec = json.loads(out.read_text())

    exact = _pairs(rec["exact_duplicates"])
    exact_truth = {tuple(sorted(p)) for p in truth["exact"]}
    assert exact_truth <= exact  # exact recall 1.0
    found = _pairs(c["paths"] for c in rec["near_duplicates"])
    near_truth = {tuple(sorted(p)) for p in truth["near"]}
    recall = len(found & near_truth) / len(near_truth)
    precision = len(found & (near_truth | exact_truth)) / max(1, len(found))
    assert recall >= 0.9 and precision >= 0.8, (recall, precision, sorted(found - near_truth)[:5])

    n_flips = len(truth["flips"])
    top = [x["path"] for x in rec["label_issues"][: int(1.5 * n_flips)]]
    hit = sum(f in top for f in truth["flips"]) / n_flips
    # the target; this seed measures 0.95 (19/20) with prune-and-rescore (0.90 without).
    # Over random flip draws it is borderline: about 5% of the photos are misclassified anyway
    # and compete with the flips (benchmarks/bench_label_flips.py, BENCHMARKS.md "Audit")
    assert hit >= 0.9, hit
    leak = rec["leak"]
    assert leak["straddling_clusters"] > 0 and leak["metric"] == "balanced_accuracy"
    assert 0 <= rec["calibration"]["ece"] <= 0.2

    # --dedupe group: no planted cluster falls on both sides of a fold
    fsets = load_feature_sets([cache])
    grouped, note = apply_dedupe(fsets, "group", folds=5, repeats=1, seed=0)
    assert "features and image hashes" in note
    data = read_cache(cache)
    key_of = dict(zip(data.paths, data.hashes))
    keys = {k: i for i, k in enumerate(fsets[0].keys.tolist())}
    clusters = [np.array([keys[key_of[a]], keys[key_of[b]]]) for a, b in truth["near"]
                if key_of[a] in keys and key_of[b] in keys]
    splits = make_splitter(grouped[0].y, grouped[0].groups, folds=5, seed=0)
    assert len(clusters) >= 70 and straddling(clusters, splits) == 0
    assert straddling(clusters, make_splitter(fsets[0].y, fsets[0].groups, folds=5, seed=0)) > 0
