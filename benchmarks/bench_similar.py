"""featx similar's search at scale: build (or load) the NeighbourIndex of N synthetic rows the way
``featx similar`` does, then time single queries after the index is loaded.

    .venv/bin/python benchmarks/bench_similar.py --rows 1000000 --dim 128 --queries 200

Prints rows=N dim=D build_s=B load_s=L query_ms_median=M query_ms_p95=P recall10=R (recall of
50 queries against brute force).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main(argv=None) -> int:
    from featx.classify import NeighbourIndex

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(1000, args.dim)).astype(np.float32)
    X = centres[rng.integers(0, 1000, args.rows)] + 0.6 * rng.normal(size=(args.rows, args.dim)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        index = NeighbourIndex().build(X)
        build = time.perf_counter() - t
        path = index.save(os.path.join(tmp, "index.npz"))
        t = time.perf_counter()
        index = NeighbourIndex.load(path)
        load = time.perf_counter() - t
    q = rng.choice(args.rows, args.queries, replace=False)
    index.search(X[q[:1]], 10)  # warm-up
    times = []
    for i in q:
        t = time.perf_counter()
        index.search(X[i:i + 1], 10)
        times.append((time.perf_counter() - t) * 1000)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    sub = q[:50]
    truth = np.argsort(-(U[sub] @ U.T), axis=1)[:, :10]
    ids = index.search(X[sub], 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)])
    print(f"rows={args.rows} dim={args.dim} kind={index.kind_} build_s={build:.1f} load_s={load:.2f} "
          f"query_ms_median={np.median(times):.2f} query_ms_p95={np.percentile(times, 95):.2f} recall10={recall:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
