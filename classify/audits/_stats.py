"""Outliers (k-nearest-neighbour distance on the features) and calibration (expected
calibration error and the data of a reliability diagram) for the audit."""

from __future__ import annotations

import numpy as np

from featx.classify._errors import ParameterError


def reduce_features(X, dims: int = 64, seed: int = 0, *, fit_rows: int = 200_000, block: int = 100_000) -> np.ndarray:
    """L2-normalised rows after standardising and a PCA to ``dims`` (fewer if X has fewer);
    what the neighbour searches of the audit work on. Above ``fit_rows`` rows the PCA is fitted
    on a seeded sample of that many and applied in blocks (memory stays a few copies of the
    sample, not of the table)."""
    from sklearn.decomposition import PCA

    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
    scale = X.std(axis=0, dtype=np.float64).astype(np.float32)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    d = min(dims, n - 1, X.shape[1])
    pca = None
    if d >= 1 and d < X.shape[1]:
        rows = np.arange(n) if n <= fit_rows else np.sort(np.random.default_rng(seed).choice(n, fit_rows, replace=False))
        pca = PCA(n_components=d, svd_solver="randomized" if len(rows) > 2000 else "auto", random_state=seed)
        pca.fit((X[rows] - mean) / scale)
    out = np.empty((n, d if pca is not None else X.shape[1]), dtype=np.float32)
    for s in range(0, n, block):
        part = (X[s:s + block] - mean) / scale
        out[s:s + block] = pca.transform(part) if pca is not None else part
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    out /= np.where(norm > 0, norm, 1.0)
    return out


def neighbours(Z, k: int, block: int | None = None):
    """The ``k`` nearest other rows of each row of unit-norm ``Z`` by cosine: (indices, cosines),
    both (n, k), nearest first. Exact below 50,000 rows, an IVF index above (sub-quadratic),
    cosines re-checked exactly (:class:`~featx.classify.audits._index.NeighbourIndex`)."""
    from featx.classify.audits._index import NeighbourIndex

    n = Z.shape[0]
    k = min(k, n - 1)
    if k < 1:
        return np.empty((n, 0), np.int64), np.empty((n, 0), np.float32)
    sim, idx = NeighbourIndex().build(Z).self_neighbours(k)
    return idx, sim


def knn_outliers(X, *, k: int = 10, Z=None, knn=None) -> np.ndarray:
    """Outlier score per row: the mean cosine distance to its ``k`` nearest rows (higher: farther
    from everything; a row far from every class has no close neighbours). ``knn``: the result
    of :func:`neighbours` with at least ``k`` columns, if computed."""
    Z = reduce_features(X) if Z is None else Z
    if Z.shape[0] < 2:
        return np.zeros(Z.shape[0])
    _, sim = neighbours(Z, k) if knn is None else knn
    sim = sim[:, :k]
    return (1.0 - sim.astype(np.float64)).mean(axis=1)


def calibration(labels, proba, *, bins: int = 10) -> dict:
    """Expected calibration error of the top-class confidence, with the reliability diagram's
    data: per equal-width confidence bin its edges, row count, mean confidence and accuracy."""
    labels = np.asarray(labels, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != labels.shape[0]:
        raise ParameterError(f"proba must be (n, k) with one row per label; got {proba.shape} for {labels.shape[0]} labels")
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    out = {"bins": [], "n": int(len(labels))}
    ece = 0.0
    for b in range(bins):
        m = which == b
        count = int(m.sum())
        acc = float(correct[m].mean()) if count else None
        mean_conf = float(conf[m].mean()) if count else None
        if count:
            ece += count / len(labels) * abs(acc - mean_conf)
        out["bins"].append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": count,
                            "confidence": mean_conf, "accuracy": acc})
    out["ece"] = float(ece)
    out["accuracy"] = float(correct.mean())
    out["mean_confidence"] = float(conf.mean())
    return out
