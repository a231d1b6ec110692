"""The audit's manifest round trip on the three real sets (issue 19, item 5): with copies planted
as ``bench_near_real.py`` plants them (same ``--work`` folder, caches reused), run

1. ``featx cv CACHE`` and count its duplicate warnings;
2. ``featx audit CACHE --write-manifest SET.clean.csv`` (columns path,label,group; a sidecar
   ``SET.clean.dropped.csv`` lists every dropped row with its reason);
3. ``featx extract SET.clean.csv`` and ``featx cv`` on that cache, and count the warnings again.

It checks the manifest against the planted truth: one file of each planted exact pair is kept, and
the two images of every planted near-copy pair that the audit found share a group. One ``result``
line per set.

    .venv/bin/python benchmarks/bench_manifest_round_trip.py --work /tmp/featx_near
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import header  # noqa: E402

SETS = ("hymenoptera", "flowers", "caltech101_objects")
FEATX = os.path.join(os.path.dirname(sys.executable), "featx")
WARNINGS = ("exact cop", "near-duplicate")


def featx(*args) -> tuple[int, str, str]:
    p = subprocess.run([FEATX, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def duplicate_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(w in line for w in WARNINGS)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/featx_near")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--folds", default="5")
    args = ap.parse_args(argv)
    header("manifest round trip")
    for name in args.sets.split(","):
        cache = os.path.join(args.work, f"{name}.h5")
        root = os.path.join(args.work, name)
        if not os.path.exists(cache):
            subprocess.run([sys.executable, os.path.join(HERE, "bench_near_real.py"), "--work", args.work, "--sets", name,
                            "--prepare-only"], check=True)
        truth = json.load(open(os.path.join(args.work, f"{name}.truth.json")))
        t0 = time.perf_counter()
        code, _, err = featx("cv", cache, "--heads", "logreg", "--folds", args.folds, "--layer", "global_pool")
        assert code == 0, err
        before = duplicate_warnings(err)
        manifest = os.path.join(args.work, f"{name}.clean.csv")
        code, out, err = featx("audit", cache, "--write-manifest", manifest, "--overwrite")
        assert code == 0, err
        rows = list(csv.DictReader(open(manifest)))
        dropped = list(csv.DictReader(open(os.path.join(args.work, f"{name}.clean.dropped.csv"))))
        rel = {os.path.relpath(os.path.join(os.path.dirname(manifest), r["path"]) if not os.path.isabs(r["path"])
                               else r["path"], root): r for r in rows}
        kept_exact = sum((a in rel) + (b in rel) == 1 for a, b in truth["exact"])
        near = [(a, b) for a, b, _ in truth["near"] if a in rel and b in rel]
        same_group = sum(rel[a]["group"] != "" and rel[a]["group"] == rel[b]["group"] for a, b in near)
        clean = os.path.join(args.work, f"{name}.clean.h5")
        code, _, err = featx("extract", manifest, "-o", clean, "--overwrite")
        assert code == 0, err
        code, _, err = featx("cv", clean, "--heads", "logreg", "--folds", args.folds, "--layer", "global_pool")
        assert code == 0, err
        after = duplicate_warnings(err)
        reasons = {}
        for r in dropped:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        print(f"result set={name} rows={len(rows) + len(dropped)} kept={len(rows)} dropped={len(dropped)} "
              f"reasons={json.dumps(reasons, sort_keys=True)} groups={len({r['group'] for r in rows if r['group']})} "
              f"exact_pairs_one_kept={kept_exact}/{len(truth['exact'])} near_pairs_same_group={same_group}/{len(near)} "
              f"warnings_before={len(before)} warnings_after={len(after)} wall_s={time.perf_counter() - t0:.0f}", flush=True)
        for line in before + after:
            print(f"  {'after ' if line in after else 'before'}: {line.strip()[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
