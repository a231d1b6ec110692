"""The explorer's map method, chosen by measurement: UMAP, t-SNE and PCA on the real caches
(trustworthiness and 10-NN preservation, wall time) and wall time on synthetic clustered rows.

    .venv/bin/python benchmarks/bench_explore_map.py --caches /tmp/explore_bench/*.h5 --synthetic 1000 50000

Quality: sklearn.manifold.trustworthiness (k=10, on the cosine geometry: unit rows) and kNN
preservation (mean share of each row's 10 nearest feature-space neighbours that are among its 10
nearest map neighbours). Synthetic rows (256 dims, 50 Gaussian clusters): wall time, and, because
trustworthiness is quadratic in memory at 50k rows, two measures over a seeded sample of 2,000 query
rows whose neighbours are searched exactly among all rows: 10-NN kept (as above) and cluster purity
(the share of a row's 10 nearest map neighbours from its own cluster; in feature space it is 1.0).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import header  # noqa: E402

K = 10


def knn_preservation(X, xy, k=K) -> float:
    from sklearn.neighbors import NearestNeighbors

    a = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy, return_distance=False)[:, 1:]
    return float(np.mean([len(set(r) & set(s)) / k for r, s in zip(a, b)]))


def sampled_quality(X, xy, labels, k=K, n_queries=2000, seed=0) -> tuple[float, float]:
    """(10-NN kept, cluster purity) of ``n_queries`` sampled rows, neighbours among all rows."""
    from sklearn.neighbors import NearestNeighbors

    q = np.random.default_rng(seed).choice(len(X), size=min(n_queries, len(X)), replace=False)
    a = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X[q], return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy[q], return_distance=False)[:, 1:]
    kept = float(np.mean([len(set(r) & set(s)) / k for r, s in zip(a, b)]))
    purity = float(np.mean(labels[b] == labels[q][:, None]))
    return kept, purity


def timed(method, X):
    from featx.pipelines.explore._map import layout_2d

    t = time.perf_counter()
    xy = layout_2d(X, method)
    return xy, time.perf_counter() - t


def main(argv=None) -> int:
    from sklearn.manifold import trustworthiness

    from featx.extract import read_cache

    ap = argparse.ArgumentParser()
    ap.add_argument("--caches", nargs="*", default=[])
    ap.add_argument("--synthetic", nargs="*", type=int, default=[1000, 50000])
    ap.add_argument("--methods", nargs="*", default=["umap", "tsne", "pca"])
    args = ap.parse_args(argv)
    header("explore map")
    timed("umap", np.random.default_rng(0).normal(size=(200, 16)))  # numba's one-off compilation, not timed below
    for cache in args.caches:
        data = read_cache(cache)
        X = data.features[list(data.features)[-1]]
        U = X / np.linalg.norm(X, axis=1, keepdims=True)
        for m in args.methods:
            xy, s = timed(m, X)
            print(f"result set={os.path.basename(cache)} rows={len(X)} method={m} wall_s={s:.1f} "
                  f"trust10={trustworthiness(U, xy, n_neighbors=K):.3f} knn10={knn_preservation(U, xy):.3f}", flush=True)
    rng = np.random.default_rng(0)
    for n in args.synthetic:
        centres = rng.normal(size=(50, 256)).astype(np.float32)
        labels = rng.integers(0, 50, n)
        X = centres[labels] + 0.7 * rng.normal(size=(n, 256)).astype(np.float32)
        for m in args.methods:
            xy, s = timed(m, X)
            kept, purity = sampled_quality(X, xy, labels)
            print(f"result set=synthetic rows={n} method={m} wall_s={s:.1f} knn10_sampled={kept:.3f} "
                  f"purity10_sampled={purity:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
