"""Pixel arrays written as an image-folder source: ``folder/<label>/<name>.png``, the layout
:func:`open_source` reads as one class per sub-folder (synthetic or bundled data sets)."""

from __future__ import annotations

import os

import numpy as np

from featx.common import atomic_write


def write_image_folder(folder: str, images, labels, *, names=None, size: int | None = None) -> str:
    """Write each ``uint8`` array of ``images`` (H x W grey or H x W x 3 RGB) as
    ``folder/<label>/<name>`` (``names``: file names, default ``0000.png``, ``0001.png``...),
    enlarged to ``size`` x ``size`` pixels (nearest neighbour) when given; returns ``folder``.
    Each file is written atomically."""
    from PIL import Image

    for i, (pixels, label) in enumerate(zip(images, labels)):
        out_dir = os.path.join(folder, str(label))
        os.makedirs(out_dir, exist_ok=True)
        image = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
        if size is not None:
            image = image.resize((size, size), Image.Resampling.NEAREST)
        with atomic_write(os.path.join(out_dir, f"{i:04d}.png" if names is None else names[i]), "wb") as fh:
            image.save(fh, format="PNG")
    return folder
