"""Helpers for the transfer-study tests: a tiny source with its own train/val split and a fast
[finetune] spec (pretrained lite0 features, 32-pixel fine-tunes of one epoch, torch runtime)."""

from __future__ import annotations

import os

from helpers.testdata import write_colour_dataset
from helpers.pipeline import tiny_spec


def split_source(root) -> str:
    """train/ (6 images per class) and val/ (3 per class) of the three colour classes."""
    root = str(root)
    if not os.path.isdir(root):
        write_colour_dataset(os.path.join(root, "train"), per_class=6, seed=0)
        write_colour_dataset(os.path.join(root, "val"), per_class=3, seed=1)
    return root


def transfer_spec(source: str, output: str, **finetune) -> dict:
    return tiny_spec(
        source, output,
        backbones=[{"name": "lite0", "model": "efficientnet_lite0", "weights": "default", "layers": ["penultimate"]}],
        extraction={"batch_size": 32, "workers": 0, "runtime": "torch"},
        classify={"heads": ["logreg", "centroid"], "grids": {}},
        cv={"nested": False, "folds": 3}, report={"learning_curve": False, "pca_plot": False},
        finetune={"strategies": ["head"], "scratch": True, "epochs": 1, "batch_size": 8, "workers": 0, "input_size": 32,
                  "val_fraction": 0.2, "data_efficiency": [0.5, 1.0], **finetune},
    )


def checkpoint_times(output: str) -> dict:
    """``{file: mtime_ns}`` of the study's checkpoints, feature caches and cache entries."""
    out = {}
    for sub in ("transfer", "transfer-cache"):
        folder = os.path.join(output, sub)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith((".pt", ".h5", ".json")):
                out[f"{sub}/{name}"] = os.stat(os.path.join(folder, name)).st_mtime_ns
    return out
