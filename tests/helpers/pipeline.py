"""Helpers for the pipeline tests: tiny specs over generated colour images (random weights)."""

from __future__ import annotations

import copy
import os

from helpers.testdata import write_colour_dataset


def tiny_spec(source: str, output: str, **overrides) -> dict:
    """A fast study: random-weight efficientnet_lite0, two layers, logreg + centroid, nested 3x2 CV."""
    spec = {
        "title": "tiny colours",
        "output": output,
        "sources": [{"name": "colours", "path": source}],
        "backbones": [{"name": "lite0", "model": "efficientnet_lite0", "weights": "none",
                       "layers": ["blocks.1", "penultimate"]}],
        "extraction": {"batch_size": 32, "workers": 0},
        "classify": {"heads": ["logreg", "centroid"], "jobs": 1, "grids": {"logreg": {"clf__C": [0.1, 1.0]}}},
        "cv": {"folds": 3, "inner_folds": 2, "seed": 0},
        "report": {"fractions": [0.5, 1.0]},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return copy.deepcopy(spec)


def run_tiny(root, **overrides):
    """Write the colour images under ``root`` (once) and run the tiny study into ``root/out``."""
    from featx.pipelines._job import run_job

    source = os.path.join(str(root), "colours")
    if not os.path.isdir(source):
        write_colour_dataset(source, per_class=6)
    return run_job(tiny_spec(source, os.path.join(str(root), "out"), **overrides), progress=False,
                   command="featx run tiny.toml")


def listed_images(findings: dict) -> int:
    """How many images an audit's findings list (each exact and near cluster member, suspect,
    outlier and image issue): the report embeds one thumbnail for each while its budget lasts."""
    f = findings
    return (sum(map(len, f["exact_duplicates"])) + sum(len(c["paths"]) for c in f["near_duplicates"])
            + len(f["label_issues"]) + len(f["outliers"]) + len(f["image_issues"]))
