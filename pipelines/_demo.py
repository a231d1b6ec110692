"""The built-in demo dataset: scikit-learn's bundled handwritten digits written as PNG class
folders (1,797 images of 8x8 pixels, 10 classes), so the main job needs no download."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

DIGITS_DIR = os.path.join("data", "digits")
_MARKER = ".complete"


def write_digits(folder: str = DIGITS_DIR, *, per_class: int | None = None, size: int = 32) -> str:
    """Write the digits as ``folder/<digit>/<index>.png`` (upscaled to ``size`` pixels, grey on
    black as in the original) once; later calls reuse them. ``per_class`` keeps a stratified
    subset (the first images of each class)."""
    from sklearn.datasets import load_digits

    marker = os.path.join(folder, _MARKER)
    wanted = f"per_class={per_class} size={size}"
    if os.path.exists(marker):
        with open(marker, encoding="utf-8") as fh:
            if fh.read().strip() == wanted:
                return folder
    digits = load_digits()
    counts: dict[int, int] = {}
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        label = int(label)
        if per_class is not None and counts.get(label, 0) >= per_class:
            continue
        counts[label] = counts.get(label, 0) + 1
        out_dir = os.path.join(folder, str(label))
        os.makedirs(out_dir, exist_ok=True)
        pixels = np.clip(image / 16.0 * 255.0 + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(pixels).resize((size, size), Image.Resampling.NEAREST)
        path = os.path.join(out_dir, f"{i:04d}.png")
        tmp = path + ".tmp"
        img.save(tmp, format="PNG")
        os.replace(tmp, path)
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(wanted)
    return folder
