"""A separate reader process for the load tests: reads a featx cache *while* ``featx extract`` is
writing it, with featx's own reader (``cache_info`` and ``read_cache(allow_incomplete=True)``).

Usage: python load_reader.py CACHE OUTDIR --interval S --ready FILE --stop FILE

It imports featx (slow: torch), touches ``--ready``, waits for CACHE to appear, then reads it every
``--interval`` seconds until it has read it complete or ``--stop`` appears. Every read is one JSON
line in OUTDIR/reads.jsonl (done counts, checks on the rows flagged done, a sha256 of each layer's
features of those rows) plus OUTDIR/read_NNNN.npz (the rows read and a sample of their feature
values), so the test can compare what was seen mid-job with the final cache, bit for bit. A read
that raises is recorded with its traceback (a product finding), never hidden.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import traceback

import numpy as np


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("outdir")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--ready", required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--sample", type=int, default=256, help="rows per read whose values are kept")
    p.add_argument("--max-seconds", type=float, default=900.0)
    args = p.parse_args(argv)

    from featx.extract import cache_info, read_cache  # the product's reader, nothing else

    os.makedirs(args.outdir, exist_ok=True)
    log = open(os.path.join(args.outdir, "reads.jsonl"), "w")
    with open(args.ready, "w") as fh:
        fh.write(str(os.getpid()))
    deadline = time.monotonic() + args.max_seconds
    while not os.path.exists(args.cache):
        if os.path.exists(args.stop) or time.monotonic() > deadline:
            return 0
        time.sleep(0.01)

    rng = np.random.default_rng(0)
    n = 0
    while time.monotonic() < deadline:
        stop_seen = os.path.exists(args.stop)
        rec: dict = {"i": n, "t": time.time()}
        try:
            info = cache_info(args.cache)
            rec["info_readable"] = bool(info["readable"])
            rec["info_problems"] = list(info.get("problems", []))
            counts = info.get("counts") or {}
            rec["info_done"] = counts.get("done")
            rec["info_rows"] = counts.get("rows")
            data = read_cache(args.cache, allow_incomplete=True)
            rec["t_read"] = time.time()
            rows = np.asarray(data.rows, dtype=np.int64)
            rec["n_read"] = int(len(rows))
            rec["rows_total"] = int(data.meta.get("cache_rows", -1))
            rec["complete"] = bool(data.complete)
            rec["failures"] = len(data.failures)
            rec["rows_sorted_unique"] = bool(np.all(np.diff(rows) > 0)) if len(rows) > 1 else True
            hashes = [str(h) for h in data.hashes]
            rec["hashes_ok"] = all(len(h) == 64 for h in hashes) and len(hashes) == len(rows)
            rec["sha_hashes"] = hashlib.sha256("\n".join(hashes).encode()).hexdigest()
            rec["layers"] = {}
            keep = np.sort(rng.choice(len(rows), size=min(args.sample, len(rows)), replace=False)) if len(rows) else np.zeros(0, int)
            arrays = {"rows": rows.astype(np.int32), "sample_pos": keep.astype(np.int32)}
            for layer, x in data.features.items():
                finite = np.isfinite(x).all(axis=1)
                nonzero = np.abs(x).sum(axis=1) > 0
                bad = np.flatnonzero(~(finite & nonzero))
                rec["layers"][layer] = {
                    "shape": list(x.shape), "dtype": str(x.dtype), "sha": _sha(x),
                    "n_not_finite": int((~finite).sum()), "n_zero": int((~nonzero).sum()),
                    "bad_rows": rows[bad[:20]].tolist(),
                }
                arrays[f"sample::{layer}"] = x[keep]
            np.savez(os.path.join(args.outdir, f"read_{n:04d}.npz"), **arrays)
        except Exception as exc:  # recorded: a reader failing on a cache being written is a finding
            rec["error"] = f"{type(exc).__name__}: {exc}"
            rec["traceback"] = traceback.format_exc()
        log.write(json.dumps(rec) + "\n")
        log.flush()
        n += 1
        if rec.get("complete") or stop_seen:
            break
        time.sleep(args.interval)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
