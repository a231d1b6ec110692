"""The explorer's 2-D map of a layer's features: ``umap`` (umap-learn on the first 50 principal
components, cosine), ``tsne`` (the audit's :func:`featx.classify.map_2d`: PCA then t-SNE, on
every row) or ``pca`` (the first two principal components: instant, for very large caches).
Coordinates are scaled to [0, 1] on both axes.

``auto`` (the default) is chosen by measurement (BENCHMARKS.md, "Explorer map"): t-SNE up to
``TSNE_MAX`` rows (it kept neighbourhoods as well as UMAP or slightly better on the three real
sets, in 1-3 s, while UMAP's numba compilation costs 20-50 s in every new process), UMAP above
(at 50k rows 77 s against t-SNE's 402 s).
"""

from __future__ import annotations

import numpy as np

from featx.pipelines._errors import PipelineError

MAP_METHODS = ("auto", "umap", "tsne", "pca")
DEFAULT_MAP = "auto"
TSNE_MAX = 5000


def _unit(xy: np.ndarray) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return (xy - lo) / np.where(hi > lo, hi - lo, 1.0)


def _pca(X: np.ndarray, d: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    d = int(min(d, X.shape[0] - 1, X.shape[1]))
    return PCA(n_components=d, random_state=seed).fit_transform(X) if d < X.shape[1] else X


def resolve_method(method: str, n: int) -> str:
    """The method ``auto`` stands for at ``n`` rows (others unchanged)."""
    return ("tsne" if n <= TSNE_MAX else "umap") if method == "auto" else method


def layout_2d(X, method: str = DEFAULT_MAP, *, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """(n, 2) map coordinates in [0, 1] of the rows of ``X`` by ``method`` (see the module)."""
    if method not in MAP_METHODS:
        raise PipelineError(f"map method {method!r} is not one of {', '.join(MAP_METHODS)}; pass --map umap, tsne or pca")
    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    method = resolve_method(method, n)
    if n < 4:  # too few rows for any embedding: a line
        xy = np.zeros((n, 2))
        xy[:, 0] = np.linspace(0, 1, n) if n > 1 else 0.5
        return xy
    if method == "pca":
        return _unit(_pca(X, 2, seed)[:, :2])
    if method == "tsne":
        from featx.classify.audits import map_2d

        return map_2d(X, seed=seed, max_rows=n)[1]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap's notes on n_jobs with a seed, numba's on threading
        import umap

        Z = _pca(X, 50, seed)
        reducer = umap.UMAP(n_components=2, n_neighbors=int(min(n_neighbors, n - 1)), min_dist=0.1, metric="cosine",
                            random_state=seed, init="spectral" if n > n_neighbors + 2 else "random")
        return _unit(reducer.fit_transform(Z))
