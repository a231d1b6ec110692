"""A 2-D map of a feature set for the audit's picture: PCA to at most 50 dimensions, then t-SNE
(scikit-learn), on at most ``max_rows`` rows (a seeded stratified sample beyond that)."""

from __future__ import annotations

import numpy as np


def map_2d(X, y=None, *, seed: int = 0, max_rows: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, xy)``: the indices of the rows mapped (all, or a sample of ``max_rows`` stratified
    by ``y``) and their (m, 2) t-SNE coordinates scaled to [0, 1]."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    rows = np.arange(n)
    if n > max_rows:
        rng = np.random.default_rng(seed)
        if y is None:
            rows = np.sort(rng.choice(n, max_rows, replace=False))
        else:
            from sklearn.model_selection import train_test_split

            rows, _ = train_test_split(rows, train_size=max_rows, stratify=np.asarray(y), random_state=seed)
            rows = np.sort(rows)
    Xs = X[rows]
    if len(rows) < 4:
        xy = np.zeros((len(rows), 2))
        xy[:, 0] = np.linspace(0, 1, len(rows))
        return rows, xy
    d = min(50, Xs.shape[0] - 1, Xs.shape[1])
    Xp = PCA(n_components=d, random_state=seed).fit_transform(Xs) if d < Xs.shape[1] else Xs
    perplexity = float(min(30.0, (len(rows) - 1) / 3.0))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(Xp)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return rows, (xy - lo) / np.where(hi > lo, hi - lo, 1.0)
