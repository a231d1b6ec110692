"""Audit cost as the table grows: ``featx.classify.audit`` (exact copies, near-duplicates with
perceptual hashes, two 5-fold logreg CVs, label issues, k-NN outliers, calibration) on synthetic
features with planted copies, at 1k, 10k and 100k rows by default.

Prints one ``result`` line per size with the time of each part (the near-duplicate search on its
own, then the whole audit) and the planted copies found. ``--no-prune-too`` also times the audit
without confident learning's prune-and-rescore (``prune=False``, one CV less) against the default,
interleaved in the same run, and prints the ratios of the median wall and CPU seconds (with
``--jobs 1`` all the work is in this process, so the CPU ratio does not depend on other load).

    .venv/bin/python benchmarks/bench_audit.py --sizes 1000,10000,100000 --dim 256
    .venv/bin/python benchmarks/bench_audit.py --sizes 1000,10000 --no-prune-too --jobs 1
    .venv/bin/python benchmarks/bench_audit.py --sizes 10000,100000,1000000 --dim 256 --near-only
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def synthetic(n: int, dim: int, seed: int = 0):
    """Two-class features with 1% planted near copies (features and hashes nudged)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    X = rng.standard_normal((n, dim), dtype=np.float32) + 0.3 * y[:, None].astype(np.float32)
    hashes = rng.random((n, 63)) > 0.5
    mirrored = rng.random((n, 63)) > 0.5
    n_copies = max(1, n // 100)
    src = rng.choice(n // 2, n_copies, replace=False)
    dst = n // 2 + src
    X[dst] = X[src] + 0.05 * rng.standard_normal((n_copies, dim), dtype=np.float32)
    y[dst] = y[src]
    flip = rng.random((n_copies, 63)) < 0.04
    hashes[dst] = hashes[src] ^ flip
    sha = np.array([f"{i:064x}" for i in range(n)])
    return X, y, sha, (hashes, mirrored, np.ones(n, dtype=bool)), set(zip(src.tolist(), dst.tolist()))


def main(argv=None) -> int:
    from featx.classify import FeatureSet, audit, near_duplicates

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000,100000", help="comma-separated row counts")
    p.add_argument("--dim", type=int, default=256, help="features per row")
    p.add_argument("--jobs", type=int, default=2, help="cores for the CV folds")
    p.add_argument("--no-prune-too", action="store_true",
                   help="also time audit(prune=False) (the audit before prune-and-rescore) against audit(), interleaved")
    p.add_argument("--near-only", action="store_true", help="time the near-duplicate search only (no CVs): the 1M-row case")
    p.add_argument("--repeats", type=int, default=3, help="interleaved runs of each with --no-prune-too (medians)")
    args = p.parse_args(argv)
    C.header("audit scaling", {"sizes": args.sizes, "dim": args.dim, "jobs": args.jobs})
    X, y, sha, phash, _ = synthetic(200, args.dim)  # warm-up: imports and worker start-up outside the timings
    last = None
    near_duplicates(X, hashes=phash[0], mirrored=phash[1], hash_ok=phash[2])  # imports (scikit-learn, faiss) untimed
    if not args.near_only:
        audit(FeatureSet("warm-up", X, y, ["a", "b"]), [f"img{i}" for i in range(200)], sha256=sha, phash=phash, jobs=args.jobs)
    for n in (int(s) for s in args.sizes.split(",")):
        X, y, sha, phash, planted = synthetic(n, args.dim)
        t0 = time.perf_counter()
        near = near_duplicates(X, hashes=phash[0], mirrored=phash[1], hash_ok=phash[2])
        near_s = time.perf_counter() - t0
        found = {(int(a), int(b)) for c in near for a, b in c.pairs.tolist()}
        last = (n, near_s, len(found & planted) / len(planted))
        if args.near_only:
            C.result("near", n=n, dim=args.dim, near_s=near_s, planted=len(planted), planted_found=len(found & planted),
                     clusters=len(near), peak_rss_gb=peak_rss_gb(), load=C.load())
            continue
        fs = FeatureSet(f"synthetic-{n}x{args.dim}", X, y, ["a", "b"])
        t0 = time.perf_counter()
        result = audit(fs, [f"img{i}" for i in range(n)], sha256=sha, phash=phash, jobs=args.jobs)
        total = time.perf_counter() - t0
        extra = {}
        if args.no_prune_too:  # interleaved repeats; CPU seconds (in-process with --jobs 1) resist other load
            runs = {True: [], False: []}
            for _ in range(args.repeats):
                for prune in (False, True):
                    with C.Timer() as t:
                        audit(fs, [f"img{i}" for i in range(n)], sha256=sha, phash=phash, jobs=args.jobs, prune=prune)
                    runs[prune].append(t)
            for prune, key in ((True, "pruned"), (False, "no_prune")):
                extra[f"wall_s_{key}"] = C.median([t.seconds for t in runs[prune]])
                extra[f"cpu_s_{key}"] = C.median([t.cpu_seconds for t in runs[prune]])
            extra["cpu_ratio"] = extra["cpu_s_pruned"] / extra["cpu_s_no_prune"]
            extra["wall_ratio"] = extra["wall_s_pruned"] / extra["wall_s_no_prune"]
        C.result("audit", n=n, dim=args.dim, near_s=near_s, audit_s=total, **extra, planted=len(planted),
                 planted_found=len(found & planted), clusters=len(near), label_issues=len(result.label_issues.rows),
                 pruned=result.pruned, peak_rss_gb=peak_rss_gb(), load=C.load())
    if last is not None:
        print(f"rows={last[0]} near_s={last[1]:.1f} recall={last[2]:.4f}")
    return 0


def peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


if __name__ == "__main__":
    sys.exit(main())
