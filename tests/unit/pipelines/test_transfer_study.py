"""The transfer study of a [finetune] section on tiny real images with their own train/val split:
the ``transfer`` records, the held-out discipline (no held-out image is seen by any training or
early stopping), reruns that recompute nothing, adding a strategy trains only it, and the report
section drawn by headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
import torch

from featx.extract import open_source, read_checkpoint
from featx.pipelines._job import run_job
from helpers.transfer import checkpoint_times, split_source, transfer_spec

METRICS = ("balanced_accuracy", "accuracy", "f1_macro", "roc_auc")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    source = split_source(root / "colours")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        result = run_job(transfer_spec(source, str(root / "out")), progress=False, command="featx run transfer.toml")
    finally:
        torch.set_num_threads(threads)
    wall = time.perf_counter() - t0  # the test's own clock around the whole job
    with open(result.results_path, encoding="utf-8") as fh:
        doc = json.load(fh)
    return {"root": root, "source": source, "result": result, "doc": doc, "times": checkpoint_times(result.output),
            "wall": wall}


def _rerun(study, output, **finetune):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_job(transfer_spec(study["source"], output, **finetune), progress=False)
    finally:
        torch.set_num_threads(threads)


def test_one_record_per_source_approach_strategy_head(study):
    records = study["doc"]["transfer"]
    assert [(r["approach"], r["strategy"], r["head"]) for r in records] == [
        ("frozen", None, "logreg"), ("frozen", None, "centroid"), ("finetuned", "head", None),
        ("finetuned_features", "head", "logreg"), ("finetuned_features", "head", "centroid"), ("scratch", "full", None)]
    for r in records:
        assert r["source"] == "colours" and r["n_train"] == 18 and r["n_test"] == 9 and r["fraction"] == 1.0
        for m in METRICS:
            low, mean, high = r[f"{m}_ci95_low"], r[f"{m}_mean"], r[f"{m}_ci95_high"]
            assert 0.0 <= low <= mean <= high <= 1.0, (r["approach"], m)
        assert r["seconds"] > 0 and r["cached"] is False  # seconds vary with the machine: bounded below
        tuned = r["approach"] in ("finetuned", "scratch")
        assert (r["epochs_run"] == 1) if tuned else r["epochs_run"] is None
        assert ("history" in r) == tuned
    # ... and above: each record times its own fits and predictions, one after the other, inside the transfer
    # stage, which runs inside the job the test timed
    timings = study["result"].timings
    assert sum(r["seconds"] for r in records) <= timings["transfer"] <= timings["total"] <= study["wall"], timings
    # the frozen pretrained features separate the colours; a 1-epoch scratch net on 18 images cannot
    by = {(r["approach"], r["head"]): r for r in records}
    assert by[("frozen", "logreg")]["balanced_accuracy_mean"] == 1.0
    holdout = study["doc"]["transfer_study"]["holdout"]["colours"]
    assert holdout["kind"] == "source" and "18 training images (train) and 9 held-out images (val)" in holdout["description"]
    points = study["doc"]["transfer_efficiency"]
    # two frozen heads, the fine-tuned net and the scratch net, each at half (9 images) and all (18) of the training part
    assert sorted((p["approach"], p["fraction"], p["n_train"]) for p in points) == [
        ("finetuned", 0.5, 9), ("finetuned", 1.0, 18), ("frozen", 0.5, 9), ("frozen", 0.5, 9), ("frozen", 1.0, 18),
        ("frozen", 1.0, 18), ("scratch", 0.5, 9), ("scratch", 1.0, 18)]
    verdict = study["doc"]["transfer_study"]["verdicts"]["colours"]["text"]
    assert "With 18 training images (6 per class, 9 held out)" in verdict and "Training from scratch reaches" in verdict
    # the similarity is measured on the images before any fine-tuning, and the verdict names its cell
    sim = study["doc"]["transfer_study"]["similarity"]
    # flat colour squares are far from ImageNet's BatchNorm statistics (KL about 0.64, threshold 0.24)
    assert sim["method"] == "bn_kl" and sim["verdict"] == "different" and sim["n_images"] == 27
    assert (sim["value"] <= sim["threshold"]) == (sim["verdict"] == "similar") and sim["source"] == "colours"
    assert f"Measured before any fine-tuning: {sim['verdict']} domain (KL divergence {sim['value']:.3f}" in verdict
    assert f"{sim['verdict']}-domain cell, whose classic advice is" in verdict


def test_every_record_is_paired_with_the_best_frozen_one_and_scratch(study):
    records = study["doc"]["transfer"]
    words = {"better", "worse", "no detectable difference"}
    ref = records[0]  # frozen logreg separates the colours perfectly: the best frozen record
    assert "delta_vs_frozen" not in ref
    for r in records[1:]:
        assert r["vs"] == "frozen features + logreg", r
        low, high = r["delta_ci95"]
        assert low <= r["delta_vs_frozen"] <= high and 0.0 <= r["p_value"] <= 1.0 and r["paired"] in words
        # the difference is the difference of the two records' own held-out scores
        assert r["delta_vs_frozen"] == pytest.approx(r["balanced_accuracy_mean"] - ref["balanced_accuracy_mean"])
    for r in records[:-1]:
        assert r["vs_scratch"]["vs"] == "scratch (full, random init)" and r["vs_scratch"]["verdict"] in words
    assert "vs_scratch" not in records[-1]
    with open(study["result"].report_path, encoding="utf-8") as fh:
        html = fh.read()
    assert "vs best frozen (paired)" in html and "McNemar" in html


def test_no_held_out_image_is_seen_by_training_or_early_stopping(study):
    """Every checkpoint records the rows it trained and early-stopped on: none is held out."""
    held_out = set(study["doc"]["transfer_study"]["holdout"]["colours"]["splits"][0]["test_paths"])
    table = open_source(study["source"])
    assert held_out == {p for p in table.paths if p.startswith("val" + os.sep)}
    folder = os.path.join(study["result"].output, "transfer")
    checkpoints = [n for n in os.listdir(folder) if n.endswith(".pt")]
    assert len(checkpoints) == 4  # head and scratch, at fractions 0.5 and 1
    sizes = []
    for name in checkpoints:
        info = read_checkpoint(os.path.join(folder, name))["extra"]["finetune"]
        seen = {table.paths[r] for r in info["train_rows"] + info["val_rows"]}
        assert not seen & held_out, f"{name} trained or early-stopped on held-out images"
        assert not set(info["train_rows"]) & set(info["val_rows"]) and len(seen) == len(info["train_rows"]) + len(info["val_rows"])
        sizes.append((name.split("--")[1], len(info["train_rows"]), len(info["val_rows"])))
    # per start: the whole training part (18 = 15 trained + 3 for early stopping, one per class) and its
    # stratified half (9 = 6 + 3)
    assert sorted(sizes) == [("pretrained-head", 6, 3), ("pretrained-head", 15, 3), ("scratch-full", 6, 3),
                             ("scratch-full", 15, 3)], sizes
    starts = {n.split("--")[1]: read_checkpoint(os.path.join(folder, n))["extra"]["finetune"]["start"] for n in checkpoints}
    assert starts["scratch-full"]["weights"].startswith("none") and "efficientnet-lite0" in starts["pretrained-head"]["weights"]


def test_a_rerun_recomputes_nothing(study):
    result = _rerun(study, study["result"].output)
    assert all(r["cached"] for r in result.transfer["records"])
    assert checkpoint_times(result.output) == study["times"]
    assert [r["balanced_accuracy_mean"] for r in result.transfer["records"]] == [
        r["balanced_accuracy_mean"] for r in study["doc"]["transfer"]]


def test_adding_a_strategy_trains_only_that_strategy(study, tmp_path):
    output = str(tmp_path / "out")
    shutil.copytree(study["result"].output, output)
    before = checkpoint_times(output)
    result = _rerun(study, output, strategies=["head", "partial:1"], data_efficiency="off")
    after = checkpoint_times(output)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing rewritten
    new = sorted(k for k in after if k not in before and k.endswith(".pt"))
    assert len(new) == 1 and "--pretrained-partial1--" in new[0]
    cached = {(r["approach"], r["strategy"], r["head"]): r["cached"] for r in result.transfer["records"]}
    assert [k for k, c in cached.items() if not c] == [("finetuned", "partial:1", None),
                                                     ("finetuned_features", "partial:1", "logreg"),
                                                     ("finetuned_features", "partial:1", "centroid")]


PROBE = """
<script>
window.addEventListener('load', function () {
  var sec = document.getElementById('transfer');
  var imgs = [], el = sec;
  while ((el = el.nextElementSibling) && el.tagName !== 'H2') {
    imgs = imgs.concat(Array.prototype.slice.call(el.querySelectorAll('img')));
  }
  var decoded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0; });
  var rows = document.querySelectorAll('table.transfer tr');
  var verdict = document.getElementById('transfer-verdict');
  var cell = document.querySelector('table.matrix td.best');
  var out = document.createElement('pre');
  out.id = 'featx-probe';
  out.textContent = 'PROBE images=' + imgs.length + ' decoded=' + decoded.length + ' rows=' + rows.length +
    ' verdict=' + (verdict ? Math.round(verdict.getBoundingClientRect().height) : 0) +
    ' cellbg=' + (cell ? getComputedStyle(cell).backgroundColor.replace(/ /g, '') : 'none') +
    ' nav=' + (document.querySelector("nav a[href='#transfer']") ? 1 : 0) + ' END';
  document.body.appendChild(out);
});
</script>
"""


def test_report_states_the_measured_similarity_on_its_own_line(study):
    import re

    with open(study["result"].report_path, encoding="utf-8") as fh:
        page = fh.read()
    sim = study["doc"]["transfer_study"]["similarity"]
    lines = re.findall(r"<p id='transfer-similarity'>(.*?)</p>", page)
    assert len(lines) == 1  # one source, one line, outside the recommendation callout
    assert (f"<b>{sim['verdict']}</b>, bn_kl = {sim['value']:.3f} (threshold: &lt;= {sim['threshold']:g} counts as "
            f"similar, {sim['n_images']} images)") in lines[0]
    assert page.index("id='transfer-similarity'") < page.index("id='transfer-verdict'")


def test_report_section_renders_in_chromium(study, tmp_path):
    from helpers.chromium import chromium, probe_values

    binary = chromium()
    with open(study["result"].report_path, encoding="utf-8") as fh:
        page = fh.read()
    assert "Frozen vs fine-tuned vs scratch" in page
    values = probe_values(binary, page, PROBE, tmp_path)
    assert values["images"] == values["decoded"] == "2"  # the data-efficiency and convergence plots
    assert int(values["rows"]) == 1 + len(study["doc"]["transfer"])  # header + one row per record
    assert int(values["verdict"]) > 20 and values["nav"] == "1"
    assert values["cellbg"] == "rgb(255,244,194)"  # the matrix cell the measurements point to
