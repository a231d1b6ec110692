"""Near-duplicates: rows that are copies of one photo (re-encoded, resized, slightly cropped or
mirrored), clustered from two cues.

- Features: cosine similarity of the rows' feature vectors (standardised, PCA-reduced, see
  :func:`~featx.classify.audits._stats.reduce_features`); candidates are each row's nearest rows.
- Perceptual hashes (optional, from ``featx.extract.phash_files``): the Hamming distance of two
  rows' 63-bit DCT hashes, the smaller of image-vs-image and image-vs-mirror, so mirrored copies
  match as well.

A candidate pair is a copy when its hashes are within ``hash_bits`` bits, or within
``hash_bits_loose`` bits and the features agree to ``cosine_loose``; without hashes, when the
features agree to ``cosine``. Clusters are the connected components of those pairs. The default
thresholds were calibrated on hymenoptera with planted copies (see BENCHMARKS.md, "Audit").
"""

from __future__ import annotations

import dataclasses

import numpy as np

from featx.classify.audits._exact import merge_groups
from featx.classify.audits._stats import neighbours, reduce_features


@dataclasses.dataclass(frozen=True)
class NearDuplicateRule:
    """Thresholds of the near-duplicate decision (see the module docstring)."""

    hash_bits: int = 6
    hash_bits_loose: int = 14
    cosine_loose: float = 0.85
    cosine: float = 0.92
    candidates: int = 10


def hash_distance(hashes, mirrored, i, j) -> np.ndarray:
    """Hamming distances of rows ``i`` to rows ``j`` (arrays), mirror-invariant."""
    direct = (hashes[i] != hashes[j]).sum(axis=1)
    flipped = (hashes[i] != mirrored[j]).sum(axis=1)
    return np.minimum(direct, flipped)


def candidate_pairs(Z, k: int, hashes=None, hash_ok=None, knn=None):
    """Pairs (i < j) to check: each row's ``k`` nearest rows by features, plus (with hashes)
    every pair whose hashes agree exactly on one of the 16-bit bands (pairs within 2 bits always
    share one); mirrored copies are found through the features, which pooling makes nearly
    mirror-invariant. ``knn``: the ``(indices, cosines)`` of :func:`neighbours`, if computed."""
    idx = (neighbours(Z, k) if knn is None else knn)[0][:, :k]
    i = np.repeat(np.arange(Z.shape[0]), idx.shape[1])
    j = idx.ravel()
    pairs = [np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)]
    if hashes is not None:
        bands = hashes.shape[1] // 16
        weights = 1 << np.arange(16, dtype=np.int64)
        for b in range(bands):
            key = (hashes[:, b * 16:(b + 1) * 16].astype(np.int64) * weights).sum(axis=1)
            key = np.where(hash_ok, key, -1 - np.arange(len(key)))
            order = np.argsort(key, kind="stable")
            sk = key[order]
            starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
            ends = np.r_[starts[1:], len(sk)]
            for s, e in zip(starts, ends):
                if 1 < e - s <= 50:  # a crowded bucket is a flat image, not a copy
                    members = np.sort(order[s:e])
                    a, b2 = np.triu_indices(len(members), 1)
                    pairs.append(np.stack([members[a], members[b2]], axis=1))
    allp = np.unique(np.concatenate(pairs), axis=0)
    return allp[allp[:, 0] != allp[:, 1]]


def near_duplicates(X, *, hashes=None, mirrored=None, hash_ok=None, rule: NearDuplicateRule | None = None, Z=None, knn=None):
    """Clusters of near-duplicate rows: a list of ``(rows, min_similarity)``, largest first,
    where ``min_similarity`` is the smallest feature cosine of a linked pair in the cluster.

    ``X`` (n, d) features; ``hashes``/``mirrored`` (n, bits) booleans and ``hash_ok`` (n,) from
    ``featx.extract.phash_files`` (optional). Exact copies cluster too (cosine 1, 0 bits).
    """
    rule = rule or NearDuplicateRule()
    Z = reduce_features(X) if Z is None else Z
    n = Z.shape[0]
    if n < 2:
        return []
    pairs = candidate_pairs(Z, rule.candidates, hashes, hash_ok, knn)
    i, j = pairs[:, 0], pairs[:, 1]
    cos = np.einsum("ij,ij->i", Z[i], Z[j])
    if hashes is not None:
        ok = np.asarray(hash_ok, dtype=bool)
        both = ok[i] & ok[j]
        bits = hash_distance(hashes, mirrored, i, j)
        linked = np.where(both, (bits <= rule.hash_bits) | ((bits <= rule.hash_bits_loose) & (cos >= rule.cosine_loose)),
                          cos >= rule.cosine)
    else:
        linked = cos >= rule.cosine
    li, lj, lc = i[linked], j[linked], cos[linked]
    if not len(li):
        return []
    groups = merge_groups(n, [np.array([a, b]) for a, b in zip(li, lj)])
    clusters = []
    for g in np.unique(groups[np.r_[li, lj]]):
        rows = np.flatnonzero(groups == g)
        in_cluster = groups[li] == g
        clusters.append((rows, float(lc[in_cluster].min())))
    clusters.sort(key=lambda c: (-len(c[0]), int(c[0][0])))
    return clusters
