"""Regression tests for two things the chaos soak of ``featx run`` found:

- a run killed while it wrote results.json, report.html or a cv-cache entry left ``*.tmp-PID``
  files in its output folder that no later run removed; a rerun now deletes them (it holds the
  output folder's lock);
- results.json of a rerun that reused cached learning curves / PCA spectra differed from a fresh
  run's by an internal key of the result cache (``"_arrays": false``); the cache no longer hands it
  back.
"""

from __future__ import annotations

import json
import os

from helpers.chaos import tmp_leftovers
from helpers.testdata import write_colour_dataset


def _spec(src: str, out: str, **report) -> dict:
    return {
        "output": out,
        "sources": [{"name": "colours", "path": src}],
        "backbones": [{"name": "lite0", "model": "efficientnet_lite0", "weights": "none", "layers": ["blocks.1"]}],
        "extraction": {"batch_size": 16, "workers": 0},
        "classify": {"heads": ["centroid"], "jobs": 1},
        "cv": {"folds": 2, "nested": False, "seed": 0},
        "report": {"fractions": [0.5, 1.0], **report},
    }


def test_rerun_removes_temporary_files_a_killed_run_left(tmp_path):
    from featx.pipelines import run_job

    src = write_colour_dataset(tmp_path / "colours", per_class=4)
    out = tmp_path / "out"
    os.makedirs(out / "cv-cache")
    # the names the writers use (pid of a dead process)
    stale = [out / "results.json.tmp-999999", out / "report.html.tmp-999999",
             out / "cv-cache" / "0123abcd.json.tmp-999999", out / "cv-cache" / "0123abcd.npz.tmp-999999.npz"]
    for path in stale:
        path.write_bytes(b"half-written")
    keep = out / "cv-cache" / "notes.txt"  # anything else stays
    keep.write_text("mine")
    run_job(_spec(src, str(out), learning_curve=False, pca_plot=False), progress=False)
    assert tmp_leftovers(out) == []
    assert keep.read_text() == "mine"
    assert os.path.exists(out / "results.json") and os.path.exists(out / "report.html")


def test_results_of_a_cached_rerun_equal_a_fresh_runs(tmp_path):
    from featx.pipelines import run_job

    src = write_colour_dataset(tmp_path / "colours", per_class=4)
    out = str(tmp_path / "out")
    first = run_job(_spec(src, out), progress=False)
    with open(first.results_path, encoding="utf-8") as fh:
        fresh = json.load(fh)
    second = run_job(_spec(src, out), progress=False)
    assert second.cv_computed == 0
    with open(second.results_path, encoding="utf-8") as fh:
        cached = json.load(fh)
    for source, curve in fresh["learning_curves"].items():
        again = dict(cached["learning_curves"][source])
        assert again.pop("cached") is True
        assert {k: v for k, v in curve.items() if k != "cached"} == again
    assert fresh["pca"] == cached["pca"]
