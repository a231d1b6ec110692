"""Extraction on a loopback Dask cluster (issue 13): 1 against 2 workers (1 thread each) on the
same shards, the cluster against one process with 2 threads, per-shard overhead, and shard
planning / joining / verification / consolidation at 1M synthetic rows (no model).

Workers are warmed first (model built, OpenVINO model compiled, on a 16-image manifest), so
the timed runs compare steady-state throughput; every timed run recomputes all rows
(``overwrite=True``). Both clusters are up at once and the cases alternate round by round (medians
reported); the load average is printed with each result. The per-shard overhead is the time
difference of one worker on half-size and on 4x shards, per extra shard.

    .venv/bin/python benchmarks/bench_cluster_extract.py --part extract --shard-size 32
    .venv/bin/python benchmarks/bench_cluster_extract.py --part join --rows 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def _pin_process(core: int) -> int:
    """Pin every thread of this (worker) process to one core; returns the pid."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), {core})
    os.sched_setaffinity(0, {core})  # threads started later inherit it
    return os.getpid()


def bench_extract(args, work: str) -> dict:
    import contextlib

    import distributed

    from featx.common.cluster import local_cluster
    from featx.extract import extract, open_source

    src = args.source
    rows = len(open_source(src))
    warm = C.subset_manifest(src, 16, work)
    kw = dict(model=args.model, weights=args.weights, batch_size=args.batch_size, runtime=args.runtime, progress=False,
              workers=0)
    times: dict[str, list[float]] = {}

    def timed(case, client, shard_size=args.shard_size, overwrite=True):
        target = os.path.join(work, f"{case}.h5")
        extra = {} if client is None else {"cluster": client, "shard_size": shard_size}
        with C.Timer() as t:
            s = extract(src, target, overwrite=overwrite, **extra, **kw)
        times.setdefault(case, []).append(t.seconds)
        C.result(case, rows=rows, shards=getattr(s, "shards", 1), seconds=t.seconds, img_s=rows / t.seconds, load=C.load())
        return s

    with contextlib.ExitStack() as stack:  # both clusters up at once: the cases alternate, side by side
        clients = {}
        for n in (1, 2):
            lc = stack.enter_context(local_cluster(n))
            clients[n] = stack.enter_context(distributed.Client(lc))
            if args.pin:  # worker i on core i: a worker then uses exactly one core (decode pool included)
                for core, address in enumerate(sorted(clients[n].scheduler_info()["workers"])):
                    clients[n].run(_pin_process, core, workers=[address])
            extract(warm, os.path.join(work, f"warm{n}.h5"), cluster=clients[n], shard_size=8, **kw)  # workers warm
        extract(warm, os.path.join(work, "warm.h5"), **kw)  # this process warm (conversion cache filled)
        for _round in range(args.rounds):
            timed("one_process_2_threads", None)
            timed("cluster_1_worker_1_thread", clients[1])
            timed("cluster_2_workers_1_thread", clients[2])
        small = timed("cluster_1_worker_small_shards", clients[1], shard_size=args.shard_size // 2)
        big = timed("cluster_1_worker_big_shards", clients[1], shard_size=args.shard_size * 4)
        with C.Timer() as t:  # every shard unchanged: a task that computes nothing
            s = extract(src, os.path.join(work, "cluster_2_workers_1_thread.h5"), cluster=clients[2], **kw)
        C.result("cluster_2_workers_rerun_unchanged", shards=s.shards, seconds=t.seconds,
                 ms_per_shard=1000 * t.seconds / s.shards, load=C.load())
    med = {k: C.median(v) for k, v in times.items()}
    per_shard = max(0.0, (med["cluster_1_worker_small_shards"] - med["cluster_1_worker_big_shards"]) / (small.shards - big.shards))
    per_worker = rows / max(1e-9, med["cluster_1_worker_big_shards"] - big.shards * per_shard)
    C.result("ratios", speedup_2_vs_1_workers=med["cluster_1_worker_1_thread"] / med["cluster_2_workers_1_thread"],
             cluster2x1_over_process_2_threads=med["cluster_2_workers_1_thread"] / med["one_process_2_threads"],
             per_worker_img_s=per_worker, per_shard_overhead_s=per_shard)
    return {"per_worker": per_worker, "per_shard": per_shard}


def bench_join(args, work: str) -> dict:
    import h5py
    import numpy as np

    from featx.extract import consolidate, read_cache
    from featx.extract.cache._join import join
    from featx.extract.cluster._shards import plan_shards, table_digest
    from featx.extract.cache._store import RowPlan, create, open_cache

    n, size, dim = args.rows, args.join_shard_size, args.dim
    paths = [f"c{i % 10}/{i:08d}.jpg" for i in range(n)]
    labels = np.arange(n) % 10
    with C.Timer() as t:
        digest = table_digest(paths, labels, [""] * n, [""] * n, [f"c{i}" for i in range(10)])
        plan = plan_shards(sorted(paths), digest, batch_size=64, settings={}, shard_size=size)
    C.result("plan", rows=n, shards=len(plan.shards), seconds=t.seconds, load=C.load())
    spec = {"layers": ["f"], "dtype": "float16"}
    folder = os.path.join(work, "big.h5.shards")
    os.makedirs(folder)
    shard_paths = []
    rng = np.random.default_rng(0)
    with C.Timer() as t:
        for s in plan.shards:
            p = os.path.join(folder, s.file)
            rows = RowPlan(paths[s.start:s.stop], labels[s.start:s.stop], [""] * s.rows, [""] * s.rows,
                           np.zeros(s.rows, np.int64), np.zeros(s.rows, np.int64))
            create(p, rows, spec=spec, layer_dims={"f": dim}, dtype="float16", class_names=[f"c{i}" for i in range(10)],
                   source={"root": work, "rows": n})
            with open_cache(p, "r+") as f:
                f["features/f"][:] = rng.standard_normal((s.rows, dim)).astype(np.float16)
                f["sha256"][:] = np.full(s.rows, b"0" * 64, dtype="S64")
                f["done"][:] = 1
                f.attrs["complete"] = True
            shard_paths.append(p)
    C.result("write_synthetic_shards", rows=n, shards=len(shard_paths), seconds=t.seconds)
    joined = os.path.join(work, "big.h5")
    with C.Timer() as t:
        join(joined, shard_paths, {"root": work, "rows": n})
    C.result("join", rows=n, shards=len(shard_paths), seconds=t.seconds, load=C.load())
    with C.Timer() as t:
        data = read_cache(joined)  # includes check_shards: every shard's size and checksum
    C.result("read_joined", rows=len(data), dim=dim, seconds=t.seconds)
    with C.Timer() as t:
        with h5py.File(joined, "r") as f:
            from featx.extract.cache._join import check_shards

            check_shards(joined, f)
    C.result("verify_shards_only", shards=len(shard_paths), seconds=t.seconds)
    single = os.path.join(work, "single.h5")
    with C.Timer() as t:
        consolidate(joined, single)
    C.result("consolidate", rows=n, dim=dim, seconds=t.seconds, load=C.load())
    with C.Timer() as t:
        data2 = read_cache(single)
    C.result("read_consolidated", rows=len(data2), seconds=t.seconds)
    return {}


def estimate(per_worker: float, per_shard: float, images: int = 10_000_000, shard: int = 10_048,
             gpu_rates=(500.0, 1500.0), ks=(1, 4, 16, 64)) -> None:
    """Hours for ``images`` on K workers: images / (K * rate) + shards / K * per-shard overhead."""
    shards = -(-images // shard)
    for label, rate in [("measured_cpu_worker", per_worker)] + [(f"assumed_gpu_worker_{int(r)}", r) for r in gpu_rates]:
        for k in ks:
            hours = (images / (k * rate) + shards / k * per_shard) / 3600
            C.result("estimate_10M", worker=label, img_s_per_worker=rate, K=k, shards=shards,
                     per_shard_overhead_s=per_shard, hours=hours)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("extract", "join", "all"), default="all")
    p.add_argument("--source", default=C.HYMENOPTERA)
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--weights", default="default")
    p.add_argument("--runtime", default="openvino")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--shard-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--join-shard-size", type=int, default=10_048)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--pin", action="store_true",
                   help="pin worker i's process (every thread) to core i, so that a worker is one core")
    args = p.parse_args()
    C.header("cluster extraction (issue 13)", vars(args))
    work = tempfile.mkdtemp(prefix="featx-bench-cluster-")
    try:
        if args.part in ("extract", "all"):
            measured = bench_extract(args, work)
            estimate(measured["per_worker"], measured["per_shard"])
        if args.part in ("join", "all"):
            bench_join(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"# load average at end: {C.load()}  ({time.strftime('%H:%M:%S')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
