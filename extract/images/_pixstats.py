"""Pixel statistics of one decoded image, for the audit's image-quality checks: original size,
grey-level percentiles and spread, histogram entropy, sharpness (variance of the Laplacian on a
grey copy at most ``BLUR_PX`` pixels on its long side, as cleanvision does, after stretching that
copy's 1st-99th percentile range to 0-255, so that a dark or low-contrast but sharp image is not
read as blurred: the raw variance scales with the square of the contrast) and colourfulness.
Computed from the same decoded pixels as the perceptual hash (``_phash.scan_files``); the
thresholds that turn them into issues live in featx.classify.audits._quality."""

from __future__ import annotations

import numpy as np

IMAGE_STAT_NAMES = STAT_NAMES = ("width", "height", "grey_mean", "grey_std", "grey_p01", "grey_p99", "white_fraction",
              "entropy", "blur", "chroma")
BLUR_PX = 64


def pixel_stats(img, size: tuple[int, int]) -> np.ndarray:
    """The ``STAT_NAMES`` values of an RGB PIL image whose file is ``size`` = (width, height)."""
    from PIL import Image

    rgb = np.asarray(img, dtype=np.int16)
    grey = np.asarray(img.convert("L"), dtype=np.float64)
    hist = np.bincount(grey.astype(np.uint8).ravel(), minlength=256) / grey.size
    nz = hist[hist > 0]
    entropy = float(-(nz * np.log2(nz)).sum())
    p01, p99 = np.percentile(grey, [1, 99])
    small = img.convert("L")
    if max(small.size) > BLUR_PX:
        r = BLUR_PX / max(small.size)
        small = small.resize((max(1, round(small.width * r)), max(1, round(small.height * r))), Image.BILINEAR)
    g = np.asarray(small, dtype=np.float64)
    if g.shape[0] >= 3 and g.shape[1] >= 3:
        lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
        lo, hi = np.percentile(g, [1, 99])
        blur = float(lap.var()) * (255.0 / max(hi - lo, 1.0)) ** 2  # contrast-normalised
    else:
        blur = float("nan")
    chroma = float((rgb.max(axis=2) - rgb.min(axis=2)).mean())
    return np.array([size[0], size[1], grey.mean(), grey.std(), p01, p99, float((grey >= 250).mean()),
                     entropy, blur, chroma], dtype=np.float64)
