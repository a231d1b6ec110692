"""Image-quality issues from per-image pixel statistics (the columns of
``featx.extract.IMAGE_STAT_NAMES``, computed from the pixels the audit decodes for its
perceptual hashes): blank or constant, very dark, overexposed, blurry (variance of the
Laplacian on contrast-stretched grey pixels), low information (grey-histogram entropy), extreme aspect ratio, grayscale in a
colour set and tiny. Thresholds were set by measurement on hymenoptera, flowers and
caltech101_objects (BENCHMARKS.md, "Image-quality issues"); each issue's score is the statistic
it was decided on."""

from __future__ import annotations

import dataclasses

import numpy as np

from featx.classify._errors import ParameterError

ISSUES = ("blank", "dark", "overexposed", "blurry", "low_information", "odd_aspect_ratio", "grayscale", "tiny")
_COLUMNS = ("width", "height", "grey_mean", "grey_std", "grey_p01", "grey_p99", "white_fraction", "entropy", "blur", "chroma")


@dataclasses.dataclass(frozen=True)
class QualityThresholds:
    """When a statistic makes an issue (grey levels 0-255; ``blur`` on a grey copy at most 64
    pixels on its long side whose 1st-99th percentile range is stretched to 0-255, so a dark or
    flat but sharp image is not blurry). ``grayscale`` is only reported when at most
    ``grayscale_set_fraction`` of the readable images are grayscale (a colour set)."""

    blank_std: float = 5.0            # grey standard deviation below: one flat tone
    dark_p99: float = 60.0            # 99th grey percentile below: nothing in the image is bright
    overexposed_p01: float = 200.0    # 1st grey percentile above: nothing in the image is dark
    blur: float = 250.0               # variance of the contrast-stretched Laplacian below
    entropy: float = 1.0              # bits of the 256-level grey histogram below
    aspect: float = 4.0               # long side / short side above
    chroma: float = 1.0               # mean (max - min) of the RGB channels below: no colour
    grayscale_set_fraction: float = 0.5
    tiny: int = 64                    # short side in pixels below


def image_issues(stats, ok=None, thresholds: QualityThresholds | None = None) -> list[tuple[int, str, float]]:
    """``(row, issue, score)`` for every issue of every readable row of ``stats`` (n rows, the
    ``IMAGE_STAT_NAMES`` columns; NaN rows are unreadable), by row then ``ISSUES`` order. A
    blank image is reported as blank only (it is dark, flat and low in information by
    definition)."""
    t = thresholds or QualityThresholds()
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[1] != len(_COLUMNS):
        raise ParameterError(f"stats must be (n, {len(_COLUMNS)}) with columns {', '.join(_COLUMNS)}; got shape {stats.shape}")
    ok = ~np.isnan(stats).all(axis=1) if ok is None else np.asarray(ok, dtype=bool)
    c = {name: stats[:, j] for j, name in enumerate(_COLUMNS)}
    short, long_ = np.minimum(c["width"], c["height"]), np.maximum(c["width"], c["height"])
    aspect = long_ / np.maximum(short, 1)
    grey = ok & (c["chroma"] < t.chroma)
    colour_set = ok.any() and grey.sum() <= t.grayscale_set_fraction * ok.sum()
    blank = ok & (c["grey_std"] < t.blank_std)
    rules = [("blank", blank, c["grey_std"]),
             ("dark", ok & ~blank & (c["grey_p99"] < t.dark_p99), c["grey_p99"]),
             ("overexposed", ok & ~blank & (c["grey_p01"] > t.overexposed_p01), c["grey_p01"]),
             ("blurry", ok & ~blank & (c["blur"] < t.blur), c["blur"]),
             ("low_information", ok & ~blank & (c["entropy"] < t.entropy), c["entropy"]),
             ("odd_aspect_ratio", ok & (aspect > t.aspect), aspect),
             ("grayscale", grey & ~blank & bool(colour_set), c["chroma"]),
             ("tiny", ok & (short < t.tiny), short)]
    found = [(int(i), name, float(score[i])) for name, mask, score in rules for i in np.flatnonzero(mask)]
    order = {n: k for k, n in enumerate(ISSUES)}
    return sorted(found, key=lambda x: (x[0], order[x[1]]))
