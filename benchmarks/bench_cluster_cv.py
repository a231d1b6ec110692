"""Nested CV on a Dask cluster against one machine's joblib pool: the same ``compare`` (nested
5x3, logreg and svm with their default C grids, on N x D synthetic features) run side by side,
interleaved, ``--repeats`` times:

- ``local``: ``jobs=2``, joblib's process pool of 2 workers (featx's default engine);
- ``cluster``: ``cluster=client`` on a loopback ``LocalCluster`` of 2 one-thread worker
  processes, started once before the runs (its start and stop are timed apart);
- ``tiny``: the same two on 12 rows x 4 features and one candidate, where the fits cost nothing,
  so what is left is each engine's fixed cost per call (pool start, scheduling, transfers).

Prints medians, the cluster/local ratio, the cluster's start time and what was scattered; every
cluster result is checked to equal the local one (out-of-fold predictions and every metric).

    .venv/bin/python benchmarks/bench_cluster_cv.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def _same(a, b) -> bool:
    import numpy as np

    def proba_same(p, q):
        return p is None and q is None or p is not None and q is not None and np.array_equal(p, q, equal_nan=True)

    return all(np.array_equal(x.oof_pred, y.oof_pred) and proba_same(x.oof_proba, y.oof_proba)
               and repr(x.metrics) == repr(y.metrics) and x.best_params == y.best_params for x, y in zip(a, b))


def main(argv=None) -> int:
    import distributed
    import numpy as np
    from sklearn.datasets import make_classification

    from featx.classify import FeatureSet, prepare_head_cv, run_head_jobs
    from featx.common.cluster import describe, local_cluster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--heads", default="logreg,svm")
    p.add_argument("--n", type=int, default=300, help="rows")
    p.add_argument("--dim", type=int, default=256, help="features per row")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    heads = args.heads.split(",")
    C.header("nested CV: joblib pool of 2 processes vs a 2-worker Dask LocalCluster",
             {"heads": heads, "n": args.n, "dim": args.dim, "repeats": args.repeats})
    X, y = make_classification(n_samples=args.n, n_features=args.dim, n_informative=20, random_state=0)
    fs = FeatureSet(f"synthetic-{args.n}x{args.dim}", X.astype(np.float32), y, ["a", "b"])
    Xt, yt = make_classification(n_samples=12, n_features=4, n_informative=2, n_redundant=0, random_state=0)
    tiny = FeatureSet("tiny", Xt, yt, ["a", "b"])
    # compare() is prepare_head_cv per head + one run_head_jobs; called here to get the cluster's report
    work = {"nested_5x3": [prepare_head_cv(fs, h, nested=True, folds=5, inner_folds=3) for h in heads],
            "tiny_3x2": [prepare_head_cv(tiny, h, nested=True, folds=3, inner_folds=2, grid={"clf__C": [1.0]}) for h in heads]}

    t0 = time.perf_counter()
    with local_cluster(2) as cluster, distributed.Client(cluster) as client:
        started = time.perf_counter() - t0
        where = describe(client)
        times = {(w, e): [] for w in work for e in ("local", "cluster")}
        runs = []
        for _ in range(args.repeats):
            for name, jobs in work.items():
                t = time.perf_counter()
                local = run_head_jobs(jobs, jobs=2)
                times[name, "local"].append(time.perf_counter() - t)
                t = time.perf_counter()
                on_cluster = run_head_jobs(jobs, jobs=2, cluster=client, report=runs.append)
                times[name, "cluster"].append(time.perf_counter() - t)
                assert _same(local, on_cluster), f"{name}: the cluster's results differ from the local ones"
        t = time.perf_counter()
    closed = time.perf_counter() - t
    for name, jobs in work.items():
        loc, clu = C.median(times[name, "local"]), C.median(times[name, "cluster"])
        C.result(name, heads=",".join(heads), rows=jobs[0].fs.n_samples, dim=jobs[0].fs.n_features,
                 fold_tasks=sum(len(j.splits) for j in jobs), local_2proc_s=loc, cluster_2workers_s=clu,
                 cluster_over_local=clu / loc, overhead_s=clu - loc, local_runs=times[name, "local"],
                 cluster_runs=times[name, "cluster"], identical="yes", load=C.load())
    run = runs[0]
    C.result("cluster", where=where.replace(" ", "_"), start_s=started, close_s=closed, scattered_arrays=run.scattered,
             scattered_mb=run.scattered_bytes / 1e6, load=C.load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
