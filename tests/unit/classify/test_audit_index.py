"""NeighbourIndex: exact below the threshold, IVF above it with exact re-checked cosines, the
row itself left out of self_neighbours, save/load round trip, clear errors."""

import numpy as np
import pytest

from featx.classify import NeighbourIndex, ParameterError


def _clustered(n=4000, d=24, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, d))
    X = centres[rng.integers(0, 40, n)] + 0.3 * rng.standard_normal((n, d))
    # planted near copies: row n//2 + i is row i nudged
    m = n // 20
    X[n // 2:n // 2 + m] = X[:m] + 0.01 * rng.standard_normal((m, d))
    return X.astype(np.float32), m


def _brute(X, k):
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Z @ Z.T
    np.fill_diagonal(S, -np.inf)
    ids = np.argsort(-S, axis=1)[:, :k]
    return np.take_along_axis(S, ids, axis=1), ids


def test_exact_index_equals_brute_force():
    X, _ = _clustered(600)
    cos, ids = NeighbourIndex().build(X).self_neighbours(3)
    bcos, bids = _brute(X, 3)
    assert np.allclose(cos, bcos, atol=1e-5)
    assert (ids[:, 0] == bids[:, 0]).mean() > 0.99  # ties aside


def test_ivf_index_finds_planted_copies_with_exact_cosines():
    X, m = _clustered()
    idx = NeighbourIndex(exact_below=100, nprobe=8).build(X)
    assert idx.kind_.startswith("ivf")
    cos, ids = idx.self_neighbours(5)
    n = X.shape[0]
    assert (ids[:m, 0] == np.arange(m) + n // 2).mean() >= 0.99
    assert not (ids == np.arange(n)[:, None]).any()
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert np.allclose(cos[:, 0], np.einsum("ij,ij->i", Z, Z[ids[:, 0]]), atol=1e-5)
    assert (np.diff(cos, axis=1) <= 1e-6).all()  # nearest first


def test_save_load_round_trip(tmp_path):
    X, _ = _clustered(3000)
    idx = NeighbourIndex(exact_below=100).build(X)
    path = idx.save(str(tmp_path / "idx.npz"))
    back = NeighbourIndex.load(path)
    c1, i1 = idx.search(X[:50], 4)
    c2, i2 = back.search(X[:50], 4)
    assert (i1 == i2).all() and np.allclose(c1, c2)


def test_errors_name_the_problem():
    with pytest.raises(ParameterError, match="nprobe must be a positive integer"):
        NeighbourIndex(nprobe=0).build(np.ones((3, 2)))
    with pytest.raises(ParameterError, match="before build"):
        NeighbourIndex().search(np.ones((1, 2)), 1)
    idx = NeighbourIndex().build(np.eye(3))
    with pytest.raises(ParameterError, match="queries have 2 columns; the index has 3"):
        idx.search(np.ones((1, 2)), 1)


def test_ivf_path_above_the_threshold_finds_the_same_near_duplicate_pairs_as_flat():
    from featx.classify import near_duplicates
    from featx.classify.audits._stats import reduce_features

    rng = np.random.default_rng(1)
    X, m = _clustered(6000, d=48, seed=1)
    n = X.shape[0]
    hashes = rng.random((n, 63)) > 0.5
    mirrored = rng.random((n, 63)) > 0.5
    hashes[n // 2:n // 2 + m] = hashes[:m] ^ (rng.random((m, 63)) < 0.04)  # the copies' hashes within a few bits
    ok = np.ones(n, bool)
    Z = reduce_features(X)
    found = {}
    for name, exact_below in (("flat", 10**9), ("ivf", 1000)):
        index = NeighbourIndex(exact_below=exact_below).build(Z)
        assert (index.kind_ == "exact") == (name == "flat") and (name == "flat" or index.kind_.startswith("ivf"))
        cos, ids = index.self_neighbours(10)
        clusters = near_duplicates(X, hashes=hashes, mirrored=mirrored, hash_ok=ok, Z=Z, knn=(ids, cos))
        found[name] = {tuple(p) for c in clusters for p in c.pairs.tolist()}
    planted = {(i, n // 2 + i) for i in range(m)}
    assert planted <= found["flat"]
    assert found["ivf"] == found["flat"]


def _star_reference(n, pairs, cosines):
    """The medoid rule written out plainly (a rescan of every row per cluster)."""
    partners = {}
    for x, y in pairs.tolist():
        partners.setdefault(x, set()).add(y)
        partners.setdefault(y, set()).add(x)
    score = np.zeros(n)
    np.add.at(score, pairs[:, 0], cosines)
    np.add.at(score, pairs[:, 1], cosines)
    taken = np.zeros(n, bool)
    out = []
    while True:
        free = [r for r in partners if not taken[r] and any(not taken[p] for p in partners[r])]
        if not free:
            return sorted(out, key=lambda c: (-len(c[1]), c[1][0]))
        medoid = max(free, key=lambda r: (sum(not taken[p] for p in partners[r]), score[r], -r))
        members = [medoid]
        for p in sorted((p for p in partners[medoid] if not taken[p]), key=lambda p: (-score[p], p)):
            if all(q in partners[p] for q in members):
                members.append(p)
        taken[members] = True
        out.append((medoid, sorted(members)))


@pytest.mark.parametrize("seed", range(6))
def test_star_clusters_heap_matches_the_plain_medoid_rule(seed):
    from featx.classify.audits._near import star_clusters

    rng = np.random.default_rng(seed)
    n = 300
    raw = rng.integers(0, 60 if seed % 2 else n, (400, 2))  # dense (overlapping stars) or sparse graphs
    raw = raw[raw[:, 0] != raw[:, 1]]
    pairs = np.unique(np.sort(raw, axis=1), axis=0)
    cosines = np.round(rng.uniform(0.8, 1.0, len(pairs)), 2 if seed < 3 else 6)  # ties in score too
    bits = rng.integers(0, 11, len(pairs))
    mirrored = rng.random(len(pairs)) < 0.2
    got = star_clusters(n, pairs, cosines, bits, mirrored)
    want = _star_reference(n, pairs, cosines)
    assert [(c.medoid, c.rows.tolist()) for c in got] == want
    for c in got:  # each cluster's pairs are the accepted pairs with both rows in it
        inside = np.isin(pairs[:, 0], c.rows) & np.isin(pairs[:, 1], c.rows)
        assert c.pairs.tolist() == pairs[inside].tolist() and c.bits.tolist() == bits[inside].tolist()
        assert c.min_similarity == pytest.approx(cosines[inside].min())
