"""The transfer study on ../shared/data/hymenoptera (slow): frozen lite0 features vs fine-tuning
(head, partial:2) vs the classical heads on the fine-tuned features vs scratch, on the source's
own val split (153 held-out images), with a data-efficiency curve.

Run it with ``pytest -m slow tests/e2e/test_transfer_hymenoptera.py -s``; it prints one line per
record (the numbers BENCHMARKS.md section 11 quotes)."""

from __future__ import annotations

import json
import os

import pytest

from featx.pipelines._job import run_job


def hymenoptera_transfer_spec(root: str, output: str) -> dict:
    return {
        "title": "hymenoptera: frozen vs fine-tuned vs scratch",
        "output": output,
        "sources": [{"name": "hymenoptera", "path": root}],
        "backbones": [{"name": "lite0", "model": "efficientnet_lite0", "layers": ["penultimate"]}],
        "classify": {"heads": ["logreg", "svm"]},
        "cv": {"nested": True, "folds": 5, "seed": 0},
        "report": {"learning_curve": False, "pca_plot": False},
        "finetune": {"strategies": ["head", "partial:2"], "scratch": True, "epochs": 4, "patience": 2,
                     "data_efficiency": [0.25, 1.0]},
    }


@pytest.mark.slow
def test_hymenoptera_transfer_study(tmp_path, shared_data):
    root = shared_data("hymenoptera")
    # FEATX_TRANSFER_OUTPUT: an output folder to reuse (e.g. benchmarks/bench_transfer.py's OUTPUT/out,
    # whose finished units the run then reads instead of training again)
    output = os.environ.get("FEATX_TRANSFER_OUTPUT") or str(tmp_path / "out")
    result = run_job(hymenoptera_transfer_spec(root, output), progress=False)
    with open(result.results_path, encoding="utf-8") as fh:
        doc = json.load(fh)
    records = doc["transfer"]
    for r in records:
        print(f"{r['approach']:>18} {r['strategy'] or '-':>9} {r['head'] or '-':>7}  balanced accuracy "
              f"{r['balanced_accuracy_mean']:.3f} [{r['balanced_accuracy_ci95_low']:.3f}, {r['balanced_accuracy_ci95_high']:.3f}]"
              f"  epochs {r['epochs_run']}  {r['seconds']:.1f}s")
    print(doc["transfer_study"]["verdicts"]["hymenoptera"]["text"])
    assert doc["transfer_study"]["holdout"]["hymenoptera"]["kind"] == "source"
    assert {r["n_test"] for r in records} == {153} and {r["n_train"] for r in records} <= {244, 245}
    assert [(r["approach"], r["strategy"], r["head"]) for r in records] == [
        ("frozen", None, "logreg"), ("frozen", None, "svm"), ("finetuned", "head", None),
        ("finetuned_features", "head", "logreg"), ("finetuned_features", "head", "svm"), ("finetuned", "partial:2", None),
        ("finetuned_features", "partial:2", "logreg"), ("finetuned_features", "partial:2", "svm"), ("scratch", "full", None)]
    by = {(r["approach"], r["strategy"], r["head"]): r for r in records}
    # ImageNet-like data: the frozen features are already excellent, scratch far behind (pretraining pays)
    assert by[("frozen", None, "logreg")]["balanced_accuracy_mean"] >= 0.9
    assert by[("scratch", "full", None)]["balanced_accuracy_mean"] < by[("frozen", None, "logreg")]["balanced_accuracy_mean"] - 0.15
    assert "Training from scratch reaches" in doc["transfer_study"]["verdicts"]["hymenoptera"]["text"]
    assert {p["fraction"] for p in doc["transfer_efficiency"]} == {0.25, 1.0}
    assert os.path.getsize(result.report_path) > 0


def test_hymenoptera_transfer_study_fast(tmp_path, shared_data):
    """The regular CI's variant of the study above (which runs in ``make soak``): the same real data
    and held-out split, one strategy (head) and scratch, one epoch, no data-efficiency curve."""
    spec = hymenoptera_transfer_spec(shared_data("hymenoptera"), str(tmp_path / "out"))
    spec["classify"] = {"heads": ["logreg"]}
    spec["cv"] = {"nested": False, "folds": 3, "seed": 0}
    spec["finetune"] = {"strategies": ["head"], "scratch": True, "epochs": 1, "patience": 1, "data_efficiency": "off"}
    result = run_job(spec, progress=False)
    with open(result.results_path, encoding="utf-8") as fh:
        doc = json.load(fh)
    records, study = doc["transfer"], doc["transfer_study"]
    assert [(r["approach"], r["strategy"], r["head"]) for r in records] == [
        ("frozen", None, "logreg"), ("finetuned", "head", None), ("finetuned_features", "head", "logreg"),
        ("scratch", "full", None)]
    assert study["holdout"]["hymenoptera"]["kind"] == "source" and {r["n_test"] for r in records} == {153}
    by = {(r["approach"], r["strategy"], r["head"]): r for r in records}
    frozen, scratch = by[("frozen", None, "logreg")], by[("scratch", "full", None)]
    # every other record is paired with the best frozen one on the same 153 images
    assert "vs" not in frozen and all(r["vs"] == "frozen features + logreg" for r in records[1:])
    for r in records[1:]:
        low, high = r["delta_ci95"]
        assert low <= r["delta_vs_frozen"] <= high and 0 <= r["p_value"] <= 1
    # ImageNet-like data: frozen features near the ceiling, one epoch from random init at chance,
    # and the paired test says so (the similarity is measured, not read off the outcome)
    assert frozen["balanced_accuracy_mean"] >= 0.9 and scratch["delta_ci95"][1] < -0.3 and scratch["p_value"] < 1e-6
    assert study["similarity"]["method"] == "bn_kl" and study["similarity"]["verdict"] == "similar"
    assert study["similarity"]["value"] < study["similarity"]["threshold"]
    assert "Training from scratch reaches" in study["verdicts"]["hymenoptera"]["text"]
