"""A spec over ../shared/data/hymenoptera: two layers x four heads, nested CV (slow)."""

from __future__ import annotations

import pytest

from featx.pipelines._job import run_job


@pytest.mark.slow
def test_hymenoptera_two_layers_four_heads(tmp_path, shared_data):
    root = shared_data("hymenoptera")
    spec = {
        "title": "hymenoptera",
        "output": str(tmp_path / "out"),
        "sources": [{"name": "hymenoptera", "path": root}],
        "backbones": [{"model": "efficientnet_lite0", "layers": ["blocks.5", "penultimate"]}],
        "classify": {"heads": ["logreg", "svm", "rf", "xgb"]},
        "cv": {"nested": True, "folds": 5, "seed": 0},
    }
    result = run_job(spec, progress=False)
    assert len(result.records) == 8
    assert result.datasets["hymenoptera"]["rows"] == 398
    assert result.best_record["balanced_accuracy_mean"] >= 0.94


def test_hymenoptera_two_layers_two_heads_fast(tmp_path, shared_data):
    """The regular CI's variant of the spec above (which runs in ``make soak``): the same real data and
    layers, the two linear heads, nested CV with 3 outer folds."""
    spec = {
        "title": "hymenoptera",
        "output": str(tmp_path / "out"),
        "sources": [{"name": "hymenoptera", "path": shared_data("hymenoptera")}],
        "backbones": [{"model": "efficientnet_lite0", "layers": ["blocks.5", "penultimate"]}],
        "classify": {"heads": ["logreg", "svm"]},
        "cv": {"nested": True, "folds": 3, "seed": 0},
        "report": {"learning_curve": False},
    }
    result = run_job(spec, progress=False)
    assert sorted((r["layer"], r["head"]) for r in result.records) == [
        ("blocks.5", "logreg"), ("blocks.5", "svm"), ("global_pool", "logreg"), ("global_pool", "svm")]  # penultimate = global_pool
    assert result.datasets["hymenoptera"]["rows"] == 398
    assert result.best_record["balanced_accuracy_mean"] >= 0.94
