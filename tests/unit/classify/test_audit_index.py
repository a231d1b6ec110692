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
