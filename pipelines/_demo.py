"""The built-in demo (``featx run`` without a spec): scikit-learn's bundled handwritten digits
written as PNG class folders (1,797 images of 8x8 pixels, 10 classes, no download) and the demo
study's spec."""

from __future__ import annotations

import collections
import os

import numpy as np

from featx.common import write_text

DIGITS_DIR = os.path.join("data", "digits")
DEMO_LAYERS = ("blocks.4", "penultimate")
DEMO_HEADS = ("logreg", "svm", "rf", "xgb")
_MARKER = ".complete"
# the demo narrows featx.classify's search to fit a 2-core CPU in 10 minutes (see the notes)
_DEMO_GRIDS = {
    "logreg": {"clf__C": [0.1, 1.0]},
    "svm": {"clf__C": [0.001, 0.01]},
    "rf": {"clf__n_estimators": [100], "clf__max_depth": ["none"], "clf__max_features": ["sqrt", "log2"],
           "clf__min_samples_leaf": [1]},
    "xgb": {"clf__n_estimators": [50], "clf__max_depth": [3], "clf__learning_rate": [0.1, 0.3]},
}


def write_digits(folder: str = DIGITS_DIR, *, per_class: int | None = None, size: int = 32) -> str:
    """Write the digits as ``folder/<digit>/<index>.png`` (upscaled to ``size`` pixels, grey on
    black as in the original) once; later calls reuse them. ``per_class`` keeps a stratified
    subset (the first images of each class)."""
    from sklearn.datasets import load_digits

    from featx.extract.images import write_image_folder

    marker = os.path.join(folder, _MARKER)
    wanted = f"per_class={per_class} size={size}"
    if os.path.exists(marker):
        with open(marker, encoding="utf-8") as fh:
            if fh.read().strip() == wanted:
                return folder
    digits = load_digits()
    keep, counts = [], collections.Counter()
    for i, label in enumerate(digits.target.tolist()):
        if per_class is None or counts[label] < per_class:
            counts[label] += 1
            keep.append(i)
    pixels = np.clip(digits.images[keep] / 16.0 * 255.0 + 0.5, 0, 255).astype(np.uint8)
    write_image_folder(folder, pixels, digits.target[keep].tolist(), names=[f"{i:04d}.png" for i in keep], size=size)
    write_text(marker, wanted)
    return folder


def demo_spec(folder: str, output: str, *, per_class: int | None = None, layers=None, heads=None) -> dict:
    """The demo study as a spec dict (see docs/spec.md); printed into the report as TOML."""
    heads = tuple(heads or DEMO_HEADS)
    notes = [
        "Demo: scikit-learn's bundled handwritten digits (8x8 pixels, upscaled to 32x32 PNGs) through the "
        "offline ImageNet backbone efficientnet_lite0 at its own 224 px preprocessing.",
        "To fit the 10-minute budget on a 2-core CPU the demo narrows the search (two candidates per head, "
        "2 inner folds, 100 trees for rf, 50 boosting rounds for xgb) and gives xgb a 32-component PCA; the other "
        "heads see the features without PCA. Specs that do not override these use featx.classify's defaults "
        "(3 inner folds, the full grids).",
    ]
    if per_class is not None:
        notes.append(f"Stratified subset: the first {per_class} images of each class.")
    return {
        "title": "featx demo: handwritten digits" + (f" ({per_class} per class)" if per_class else ""),
        "output": os.path.abspath(output),
        "notes": notes,
        "sources": [{"name": "digits", "path": os.path.abspath(folder)}],
        "backbones": [{"name": "efficientnet_lite0", "model": "efficientnet_lite0", "weights": "default",
                       "layers": list(layers or DEMO_LAYERS), "pool": "avg"}],
        "extraction": {"batch_size": 64, "dtype": "float16"},
        "classify": {"heads": list(heads), "pca": "off", "head_pca": {h: 32 for h in heads if h == "xgb"}, "jobs": -1,
                     "grids": {h: g for h, g in _DEMO_GRIDS.items() if h in heads}},
        "cv": {"scheme": "stratified", "nested": True, "folds": 5, "inner_folds": 2, "seed": 0},
        "metrics": {"main": "balanced_accuracy", "show": ["balanced_accuracy", "accuracy", "f1_macro", "roc_auc"]},
        "report": {"learning_curve": True, "fractions": [0.1, 0.25, 0.5, 0.75, 1.0]},
    }


def prepare_demo(data_dir: str, output: str, *, per_class: int | None = None, layers=None, heads=None) -> dict:
    """Write the digits under ``data_dir`` (``digits/`` or ``digits-N/``) and return the demo spec."""
    folder = os.path.join(data_dir, "digits" if per_class is None else f"digits-{per_class}")
    write_digits(folder, per_class=per_class)
    return demo_spec(folder, output, per_class=per_class, layers=layers, heads=heads)

