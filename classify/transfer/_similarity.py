"""Domain similarity of a target data set to the source model's pretraining data, measured before
any fine-tuning from arrays the extract side computes (featx.extract.finetune's
``probe_source_model``): the source model's own class probabilities on the target images, its
pooled features and its last BatchNorm's input statistics.

Candidates (:data:`SIMILARITY_METHODS`; each gives one number per data set):

- ``entropy``: mean softmax entropy of the source-class predictions, divided by log(C)
  (0 = every image confidently one source class, 1 = uniform); lower is more similar;
- ``top5``: mean probability mass of the 5 most likely source classes; higher is more similar;
- ``max_prob``: mean top-1 probability; higher is more similar;
- ``bn_shift``: mean over channels of |target mean - running mean| / running std at the last
  BatchNorm's input; lower is more similar;
- ``bn_kl``: mean over channels of the KL divergence of N(target mean, target var) from
  N(running mean, running var); lower is more similar;
- ``logme``: LogME of the features with the target labels (transferability, not similarity;
  kept as a candidate for the comparison); higher is more similar.

The verdict uses :data:`DEFAULT_METHOD` and its threshold, chosen by evidence (benchmarks/
bench_similarity.py, BENCHMARKS.md): the measure and cut that separate real ImageNet-like sets
(hymenoptera, flowers) from generated far-domain images with the largest margin.
"""

from __future__ import annotations

import math

import numpy as np

#: method -> (direction, threshold): "lower" means values at or below the threshold are similar
SIMILARITY_METHODS = {
    "entropy": ("lower", 0.54),
    "top5": ("higher", 0.55),
    "max_prob": ("higher", 0.35),
    "bn_shift": ("lower", 0.35),
    "bn_kl": ("lower", 0.24),
    "logme": ("higher", 0.0),
}
#: bn_kl separated the sets with the widest margin relative to its range (0.61; entropy 0.23,
#: max_prob 0.24, bn_shift 0.26, top5 0.19; LogME did not separate them at all): BENCHMARKS.md
DEFAULT_METHOD = "bn_kl"
VERDICTS = ("similar", "different")


def _probs(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(f"probs must be an (n_images, n_source_classes) array with n >= 1 and >= 2 classes; got shape {p.shape}")
    return p


def prediction_entropy(probs) -> float:
    """Mean entropy of each row of ``probs`` divided by log(n_classes), in [0, 1]."""
    p = _probs(probs)
    h = -(p * np.log(np.clip(p, 1e-12, None))).sum(1)
    return float(h.mean() / math.log(p.shape[1]))


def topk_mass(probs, k: int = 5) -> float:
    """Mean probability mass of each row's ``k`` largest entries."""
    p = _probs(probs)
    k = min(int(k), p.shape[1])
    return float(np.sort(p, axis=1)[:, -k:].sum(1).mean())


def bn_shift(mean, running_mean, running_var, eps: float = 1e-5) -> float:
    """Mean over channels of |mean - running_mean| / sqrt(running_var + eps)."""
    mean, rm, rv = (np.asarray(a, dtype=np.float64) for a in (mean, running_mean, running_var))
    return float(np.mean(np.abs(mean - rm) / np.sqrt(rv + eps)))


def bn_kl(mean, var, running_mean, running_var, eps: float = 1e-5) -> float:
    """Mean over channels of KL(N(mean, var) || N(running_mean, running_var))."""
    m, v, rm, rv = (np.asarray(a, dtype=np.float64) for a in (mean, var, running_mean, running_var))
    v, rv = v + eps, rv + eps
    return float(np.mean(0.5 * (np.log(rv / v) + (v + (m - rm) ** 2) / rv - 1.0)))


def similarity_candidates(probs=None, *, features=None, y=None, bn=None) -> dict:
    """Every candidate that the given arrays allow: ``probs`` -> entropy, top5, max_prob;
    ``bn`` = (mean, var, running_mean, running_var) -> bn_shift, bn_kl; ``features`` with ``y``
    (at least two classes) -> logme."""
    out = {}
    if probs is not None:
        p = _probs(probs)
        out["entropy"] = prediction_entropy(p)
        out["top5"] = topk_mass(p, 5)
        out["max_prob"] = float(p.max(1).mean())
    if bn is not None:
        mean, var, rm, rv = bn
        out["bn_shift"] = bn_shift(mean, rm, rv)
        out["bn_kl"] = bn_kl(mean, var, rm, rv)
    if features is not None and y is not None and len(np.unique(y)) >= 2:
        from featx.classify._logme import logme

        out["logme"] = float(logme(np.asarray(features, dtype=np.float64), np.asarray(y)))
    return out


def similarity_verdict(value: float, method: str = DEFAULT_METHOD, threshold: float | None = None) -> str:
    """'similar' or 'different' for ``value`` of ``method`` against its threshold."""
    if method not in SIMILARITY_METHODS:
        raise ValueError(f"similarity method {method!r} is not one of {sorted(SIMILARITY_METHODS)}")
    direction, default = SIMILARITY_METHODS[method]
    cut = default if threshold is None else float(threshold)
    ok = value <= cut if direction == "lower" else value >= cut
    return "similar" if ok else "different"


def domain_similarity(probs=None, *, bn=None, method: str = DEFAULT_METHOD, threshold: float | None = None,
                      n_images: int | None = None) -> dict:
    """The study's record ``{"value", "method", "verdict", "threshold", "direction", "n_images"}``
    from the source model's probabilities on the target images (``probs``: (n, C); methods
    entropy, top5, max_prob) or its last BatchNorm's input moments (``bn`` = (mean, var,
    running_mean, running_var); methods bn_shift, bn_kl, the default)."""
    if method not in SIMILARITY_METHODS or method == "logme":
        raise ValueError(f"domain_similarity method must be one of entropy, top5, max_prob, bn_shift, bn_kl; got {method!r}")
    values = similarity_candidates(probs, bn=bn)
    if method not in values:
        raise ValueError(f"similarity method {method!r} needs " + ("bn=(mean, var, running_mean, running_var)"
                         if method.startswith("bn_") else "probs") + "; it was not given")
    value = values[method]
    direction, default = SIMILARITY_METHODS[method]
    cut = default if threshold is None else float(threshold)
    if n_images is None and probs is not None:
        n_images = np.asarray(probs).shape[0]
    return {"value": value, "method": method, "verdict": similarity_verdict(value, method, cut), "threshold": cut,
            "direction": direction, "n_images": None if n_images is None else int(n_images)}


def similarity_words(sim: dict) -> str:
    """'similar domain (KL divergence 0.076 of the last BatchNorm's input ..., <= 0.24 counts as similar; 64 images)'."""
    name = {"entropy": "source-model prediction entropy {v:.2f} of the maximum",
            "top5": "source-model top-5 mass {v:.2f}", "max_prob": "source-model top-1 probability {v:.2f}",
            "bn_kl": "KL divergence {v:.3f} of the last BatchNorm's input from its ImageNet running statistics",
            "bn_shift": "mean shift {v:.3f} std of the last BatchNorm's input from its ImageNet running mean"}
    label = name.get(sim["method"], sim["method"] + " {v:.3g}").format(v=sim["value"])
    sign = "<=" if sim.get("direction", "lower") == "lower" else ">="
    cut = f", {sign} {sim['threshold']:g} counts as similar" if sim.get("threshold") is not None else ""
    n = f"; {sim['n_images']} images" if sim.get("n_images") else ""
    return f"{sim['verdict']} domain ({label}{cut}{n})"
