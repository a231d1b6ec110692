"""Where the OpenVINO extraction loop spends its time, in one process after the imports: the
in-process ``extract()`` of the first ``-n`` images of a folder into a new cache (backbone built
before the clock starts), split into the main thread's waits: computing (OpenVINO), waiting for
decoded batches, HDF5 writes and the rest. ``--warm`` runs the same job once first (compiled
model, first requests), so the second run is the loop's steady state.

    .venv/bin/python benchmarks/bench_runtime_loop.py --source /tmp/jpeg2k -n 2000
    .venv/bin/python benchmarks/bench_runtime_loop.py --source /tmp/jpeg2k -n 1024 --warm
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True)
    p.add_argument("-n", type=int, default=2000)
    p.add_argument("--warm", action="store_true")
    args = p.parse_args(argv)
    C.header("runtime_loop", {"n": args.n, "warm": args.warm})
    from featx.extract import build_backbone, extract
    from featx.extract.images import _loading
    from featx.extract.runtime import _openvino
    from featx.extract.cache import _store

    spent: dict[str, float] = collections.defaultdict(float)

    def timed(owner, name, label):  # time the main thread spends in owner.name
        f = getattr(owner, name)

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                spent[label] += time.perf_counter() - t

        setattr(owner, name, wrapper)

    timed(_openvino.OpenVINOComputer, "__call__", "compute")
    timed(_store.CacheWriter, "write", "hdf5_write")
    batches = _loading.threaded_batches

    def waited(*a, **k):
        it = batches(*a, **k)
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                spent["wait_decode"] += time.perf_counter() - t
            yield item

    _loading.threaded_batches = waited
    backbone = build_backbone("efficientnet_lite0")
    with tempfile.TemporaryDirectory() as tmp:
        source = C.subset_manifest(args.source, args.n, tmp)
        if args.warm:
            extract(source, os.path.join(tmp, "warm.h5"), backbone=backbone, progress=False, layers="global_pool")
        spent.clear()
        t0 = time.perf_counter()
        extract(source, os.path.join(tmp, "c.h5"), backbone=backbone, progress=False, layers="global_pool")
        total = time.perf_counter() - t0
    C.result("loop", images=args.n, seconds=total, img_s=args.n / total,
             **{f"{k}_s": v for k, v in spent.items()}, other_s=total - sum(spent.values()))
    print(f"# load average at end (1/5/15 min): {C.load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
