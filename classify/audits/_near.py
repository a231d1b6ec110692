"""Near-duplicates: rows that are copies of one photo (re-encoded, resized, slightly cropped or
mirrored), from two cues that must agree, clustered without chaining.

- Perceptual hashes (from ``featx.extract.phash_files``): the Hamming distance of two rows'
  63-bit DCT hashes, the smaller of image-vs-image and image-vs-mirror (``mirrored`` says which),
  so mirrored copies match as well.
- Features, on a scale-free cue: the pair's cosine distance divided by the distance from either
  row to its nearest row that the hash does NOT call a copy (Lowe's ratio test). A copy sits far
  closer to its original than anything else does, whatever the dataset's cosine scale; two
  distinct pianos on white are close, but so is the third piano.

The decision (``NearDuplicateRule``): hashes within ``hash_bits`` bits are a copy on their own;
within ``hash_bits_loose`` bits, a copy when the feature ratio is at most ``ratio``; rows without
a hash (unreadable files, or no images) are compared by features only, ratio at most
``ratio_features`` against each row's second-nearest neighbour. Thresholds measured on three
real sets with planted copies (BENCHMARKS.md, "Near-duplicates that hold on any dataset").

Clusters form around a medoid: the row with the most accepted pairs (then the highest summed
cosine) starts one, and each of its partners not yet taken joins when the rule accepts it with
every member already in (complete linkage); then the next medoid. A pair that only a third row
connects is never merged (no single-linkage chains).
"""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np

from featx.classify.audits._stats import neighbours, reduce_features


@dataclasses.dataclass(frozen=True)
class NearDuplicateRule:
    """Thresholds of the near-duplicate decision (see the module docstring)."""

    hash_bits: int = 4
    hash_bits_loose: int = 10
    ratio: float = 0.45
    ratio_features: float = 0.25
    candidates: int = 10


class NearCluster(tuple):
    """One near-duplicate cluster; unpacks as ``(rows, min_similarity)``. Also ``medoid`` (row)
    and ``pairs`` (m, 2) rows of the accepted pairs inside it, with ``cosines``, ``bits``
    (perceptual-hash distance, -1 without hashes) and ``mirrored`` (booleans)."""

    def __new__(cls, rows, min_similarity, medoid, pairs, cosines, bits, mirrored):
        self = super().__new__(cls, (np.asarray(rows), float(min_similarity)))
        self.rows, self.min_similarity, self.medoid = self[0], self[1], int(medoid)
        self.pairs, self.cosines, self.bits, self.mirrored = pairs, cosines, bits, mirrored
        return self

    def record(self) -> dict:
        """JSON-ready, by row numbers (:meth:`from_record` reads it back)."""
        return {"rows": np.asarray(self.rows).tolist(), "min_similarity": float(self.min_similarity), "medoid": self.medoid,
                "pairs": np.asarray(self.pairs).tolist(), "cosines": np.asarray(self.cosines, float).round(4).tolist(),
                "bits": np.asarray(self.bits).tolist(), "mirrored": np.asarray(self.mirrored, bool).tolist()}

    @classmethod
    def from_record(cls, r: dict) -> "NearCluster":
        return cls(np.asarray(r["rows"]), r["min_similarity"], r.get("medoid", r["rows"][0]),
                   np.asarray(r.get("pairs", []), dtype=np.int64).reshape(-1, 2), np.asarray(r.get("cosines", []), float),
                   np.asarray(r.get("bits", []), dtype=np.int64), np.asarray(r.get("mirrored", []), dtype=bool))

    def pairs_json(self, paths) -> list:
        """The accepted pairs as ``{"paths", "cosine", "hash_distance", "mirrored"}``."""
        return [{"paths": [paths[a], paths[b]], "cosine": round(float(c), 4),
                 "hash_distance": None if h < 0 else int(h), "mirrored": bool(m)}
                for (a, b), c, h, m in zip(self.pairs.tolist(), self.cosines, self.bits.tolist(), self.mirrored)]


_POP = np.array([bin(v).count("1") for v in range(256)], dtype=np.uint8)
_CHUNK = 1 << 20  # pairs per step: bounds the memory of a million-row search


def pack_hashes(bits) -> np.ndarray:
    """Boolean hash rows (n, b) as (n, ceil(b / 64)) uint64 words (zero-padded), for
    :func:`hash_distance`; an array of uint64 words is returned as it is."""
    bits = np.asarray(bits)
    if bits.dtype == np.uint64:
        return bits
    packed = np.packbits(bits.astype(bool, copy=False), axis=1)
    pad = -packed.shape[1] % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per row of uint64 words (n, w), as int64."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(words).sum(axis=1, dtype=np.int64)
    return _POP[words.view(np.uint8)].sum(axis=1, dtype=np.int64)


def hash_distance(hashes, mirrored, i, j, *, which: bool = False):
    """Hamming distances of rows ``i`` to rows ``j`` (arrays), mirror-invariant; with ``which``
    also whether the mirrored comparison gave it. ``hashes``/``mirrored``: boolean rows, or the
    words of :func:`pack_hashes` (pack once when calling often); computed in chunks."""
    hp, mp = pack_hashes(hashes), pack_hashes(mirrored)
    i, j = np.asarray(i), np.asarray(j)
    bits = np.empty(len(i), dtype=np.int64)
    flip = np.empty(len(i), dtype=bool)
    for s in range(0, len(i), _CHUNK):
        a, b = i[s:s + _CHUNK], j[s:s + _CHUNK]
        ha = hp[a]
        direct = _popcount(ha ^ hp[b])
        flipped = _popcount(ha ^ mp[b])
        bits[s:s + _CHUNK] = np.minimum(direct, flipped)
        flip[s:s + _CHUNK] = flipped < direct
    return (bits, flip) if which else bits


def pair_cosines(Z, i, j) -> np.ndarray:
    """Cosines of the unit rows ``Z[i]`` and ``Z[j]``, in chunks."""
    out = np.empty(len(i), dtype=np.float32)
    step = 1 << 14  # cache-sized steps
    for s in range(0, len(i), step):
        out[s:s + step] = np.einsum("ij,ij->i", Z[i[s:s + step]], Z[j[s:s + step]])
    return out


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    code = np.sort(pairs[:, 0].astype(np.int64) * n + pairs[:, 1])
    code = code[np.r_[True, code[1:] != code[:-1]]] if len(code) else code  # np.unique, without its hash pass
    return np.stack([code // n, code % n], axis=1)


def candidate_pairs(Z, k: int, hashes=None, hash_ok=None, knn=None, mirrored=None, max_bits: int | None = None):
    """Pairs (i < j) to check: each row's ``k`` nearest rows by features, plus (with hashes)
    every pair whose hashes agree exactly on one of the 16-bit bands (pairs within 2 bits always
    share one); mirrored copies are found through the features, which pooling makes nearly
    mirror-invariant. ``knn``: the ``(indices, cosines)`` of :func:`neighbours`, if computed;
    with ``mirrored`` and ``max_bits``, band pairs further apart than ``max_bits`` are dropped as
    they are found (on a million rows the bands hold tens of millions of chance pairs)."""
    idx = (neighbours(Z, k) if knn is None else knn)[0][:, :k]
    i = np.repeat(np.arange(Z.shape[0]), idx.shape[1])
    j = idx.ravel()
    pairs = [np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)[j >= 0]]
    if hashes is not None:
        bands = hashes.shape[1] // 16
        hp = pack_hashes(hashes)
        mp = pack_hashes(mirrored) if mirrored is not None else None
        weights = 1 << np.arange(16, dtype=np.int64)
        for b in range(bands):
            key = (hashes[:, b * 16:(b + 1) * 16].astype(np.int64) * weights).sum(axis=1)
            key = np.where(hash_ok, key, -1 - np.arange(len(key)))
            order = np.argsort(key, kind="stable")
            sk = key[order]
            starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
            sizes = np.diff(np.r_[starts, len(sk)])
            found = []
            for size in np.unique(sizes[(sizes > 1) & (sizes <= 50)]).tolist():  # a crowded bucket is a flat image
                members = np.sort(order[starts[sizes == size][:, None] + np.arange(size)], axis=1)
                a, b2 = np.triu_indices(size, 1)  # every pair of each bucket of this size, at once
                found.append(np.stack([members[:, a].ravel(), members[:, b2].ravel()], axis=1))
            if found:
                band = np.concatenate(found)
                if mirrored is not None and max_bits is not None:
                    band = band[hash_distance(hp, mp, band[:, 0], band[:, 1]) <= max_bits]
                pairs.append(band)
    allp = _unique_pairs(np.concatenate(pairs), Z.shape[0])
    return allp[allp[:, 0] != allp[:, 1]]


def _reference(knn, hashes, mirrored, ok, rule) -> np.ndarray:
    """Per row: the cosine of its nearest neighbour that is not a copy by hash (bits above
    ``hash_bits_loose``); rows without a usable hash (or no such neighbour): the last one."""
    idx, sim = knn
    n, k = idx.shape
    last = sim[:, -1] if k else np.full(n, -1.0)
    if hashes is None or not k:  # features only: the row's next neighbour after its nearest
        return sim[:, 1] if k > 1 else last
    rows = np.repeat(np.arange(n), k)
    cols = np.maximum(idx.ravel(), 0)
    bits = hash_distance(hashes, mirrored, rows, cols).reshape(n, k)
    usable = ok[rows].reshape(n, k) & ok[cols].reshape(n, k) & (idx >= 0)
    far = np.where(usable & (bits > rule.hash_bits_loose), sim, -np.inf).max(axis=1)
    return np.where(np.isfinite(far), far, last)


def accepted_pairs(Z, knn, hashes=None, mirrored=None, hash_ok=None, rule: NearDuplicateRule | None = None):
    """``(pairs (m, 2), cosines, bits, mirrored)`` of the candidate pairs the rule accepts
    (bits -1 where a row has no hash)."""
    rule = rule or NearDuplicateRule()
    n = Z.shape[0]
    ok = np.ones(n, bool) if hash_ok is None else np.asarray(hash_ok, dtype=bool)
    pairs = candidate_pairs(Z, rule.candidates, hashes, ok, knn, mirrored, rule.hash_bits_loose)
    i, j = pairs[:, 0], pairs[:, 1]
    cos = pair_cosines(Z, i, j)
    k = min(rule.candidates, knn[0].shape[1])
    if hashes is not None:  # packed once for every distance below
        hashes, mirrored = pack_hashes(hashes), pack_hashes(mirrored)
    ref = _reference((knn[0][:, :k], knn[1][:, :k]), hashes, mirrored, ok, rule)
    far = np.maximum(ref[i], ref[j])
    ratio = (1.0 - cos) / np.maximum(1e-6, 1.0 - far)
    if hashes is not None:
        bits, flip = hash_distance(hashes, mirrored, i, j, which=True)
        both = ok[i] & ok[j]
        by_hash = (bits <= rule.hash_bits) | ((bits <= rule.hash_bits_loose) & (ratio <= rule.ratio))
        keep = np.where(both, by_hash, ratio <= rule.ratio_features)
        bits = np.where(both, bits, -1)
        flip = both & flip
    else:
        keep = ratio <= rule.ratio_features
        bits, flip = np.full(len(i), -1), np.zeros(len(i), bool)
    return pairs[keep], cos[keep], bits[keep], flip[keep]


def star_clusters(n: int, pairs, cosines, bits, mirrored) -> list:
    """:class:`NearCluster` stars of accepted pairs (see the module docstring), largest first.

    The next medoid is the free row with the most free partners (then the highest summed cosine,
    then the lowest row), kept in a heap whose stale counts are refreshed as they surface (counts
    only fall), so the cost grows as pairs x log(pairs), not as clusters x rows."""
    if not len(pairs):
        return []
    a, b = pairs[:, 0], pairs[:, 1]
    partners: dict[int, set] = {}
    for x, y in zip(a.tolist(), b.tolist()):
        partners.setdefault(x, set()).add(y)
        partners.setdefault(y, set()).add(x)
    score = np.zeros(n)
    np.add.at(score, a, cosines)
    np.add.at(score, b, cosines)
    score = score.tolist()
    taken = [False] * n
    free = {r: len(p) for r, p in partners.items()}  # partners not yet taken
    heap = [(-c, -score[r], r) for r, c in free.items()]
    heapq.heapify(heap)
    found = []
    while heap:
        count, neg_score, medoid = heapq.heappop(heap)
        if taken[medoid] or not free[medoid]:
            continue
        if -count != free[medoid]:  # stale: back in with its count now
            heapq.heappush(heap, (-free[medoid], neg_score, medoid))
            continue
        members = [medoid]
        for p in sorted((p for p in partners[medoid] if not taken[p]), key=lambda p: (-score[p], p)):
            if all(m in partners[p] for m in members):  # complete linkage: alike to every member
                members.append(p)
        for m in members:
            taken[m] = True
        for m in members:
            for p in partners[m]:
                free[p] -= 1
        found.append((medoid, sorted(members)))
    label = np.full(n, -1, dtype=np.int64)
    for c, (_, rows) in enumerate(found):
        label[rows] = c
    inside = np.flatnonzero((label[a] == label[b]) & (label[a] >= 0))
    inside = inside[np.argsort(label[a[inside]], kind="stable")]  # by cluster, pairs in their order
    bounds = np.searchsorted(label[a[inside]], np.arange(len(found) + 1))
    out = []
    for c, (medoid, rows) in enumerate(found):
        sel = inside[bounds[c]:bounds[c + 1]]
        out.append(NearCluster(np.array(rows), cosines[sel].min(), medoid,
                               pairs[sel], cosines[sel], bits[sel], mirrored[sel]))
    out.sort(key=lambda c: (-len(c.rows), int(c.rows[0])))
    return out


def near_duplicates(X, *, hashes=None, mirrored=None, hash_ok=None, rule: NearDuplicateRule | None = None, Z=None, knn=None):
    """Near-duplicate clusters (:class:`NearCluster`, unpacking as ``(rows, min_similarity)``),
    largest first; ``min_similarity`` is the smallest feature cosine of an accepted pair in it.

    ``X`` (n, d) features; ``hashes``/``mirrored`` (n, bits) booleans and ``hash_ok`` (n,) from
    ``featx.extract.phash_files`` (optional). Exact copies cluster too (cosine 1, 0 bits).
    """
    rule = rule or NearDuplicateRule()
    Z = reduce_features(X) if Z is None else Z
    n = Z.shape[0]
    if n < 2:
        return []
    knn = neighbours(Z, rule.candidates) if knn is None else knn
    return star_clusters(n, *accepted_pairs(Z, knn, hashes, mirrored, hash_ok, rule))
