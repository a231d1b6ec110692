"""Cross-validation cost of every head on cached-feature-sized data: 5-fold and nested 5x3
(default grids, no PCA), at growing N, synthetic rows x 1280 dims (10 Gaussian classes).

Each (head, N, mode) runs in a fresh subprocess that reports wall time and its own peak RSS. A case
whose time, extrapolated from the previous N as N^growth (``--growth``, default 1), would exceed
``--budget-s`` is skipped and says so; a case running past ``--timeout-s`` is stopped and
reported as timed out.

    .venv/bin/python benchmarks/bench_heads.py --sizes 400,2000,10000 --budget-s 300
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

_CASE = r"""
import json, resource, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
from featx.classify import FeatureSet, cross_validate_head
head, n, dim, mode, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rng = np.random.default_rng(0)
k = 10
centres = rng.normal(0, 1, (k, dim)).astype(np.float32)
y = np.arange(n) % k
X = centres[y] * 0.15 + rng.normal(0, 1, (n, dim)).astype(np.float32)
fs = FeatureSet("synthetic", X, y, [f"c{i}" for i in range(k)])
t = time.perf_counter()
cross_validate_head(fs, head, folds=5, nested=(mode == "nested"), inner_folds=3, jobs=jobs, seed=0)
sec = time.perf_counter() - t
print("RESULT " + json.dumps({"seconds": sec, "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main(argv=None) -> int:
    from featx.classify import HEADS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--heads", default=",".join(HEADS))
    p.add_argument("--sizes", default="400,2000,10000")
    p.add_argument("--dim", type=int, default=1280)
    p.add_argument("--modes", default="cv5,nested")
    p.add_argument("--jobs", type=int, default=1, help="cores per CV (joblib outer folds)")
    p.add_argument("--budget-s", type=float, default=300.0)
    p.add_argument("--timeout-s", type=float, default=None,
                   help="stop a case that runs longer than this and report it as timed out (default: no limit)")
    p.add_argument("--growth", type=float, default=1.0, help="exponent used to extrapolate a case's time from the previous N")
    args = p.parse_args(argv)
    heads = args.heads.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    C.header("heads cross-validation cost", {"heads": heads, "sizes": sizes, "dim": args.dim, "modes": modes,
                                             "jobs": args.jobs, "budget_s": args.budget_s,
                                             "growth": args.growth})
    for mode in modes:
        for head in heads:
            prev = None
            for n in sizes:
                if prev is not None and prev[1] * (n / prev[0]) ** args.growth > args.budget_s:
                    C.result("heads", head=head, mode=mode, n=n, status="skipped",
                             reason=f"extrapolated>{args.budget_s:.0f}s_from_{prev[1]:.0f}s_at_{prev[0]}")
                    prev = (n, prev[1] * (n / prev[0]) ** args.growth)
                    continue
                try:
                    proc = subprocess.run([sys.executable, "-c", _CASE, head, str(n), str(args.dim), mode, str(args.jobs)],
                                          capture_output=True, text=True, timeout=args.timeout_s)
                except subprocess.TimeoutExpired:
                    C.result("heads", head=head, mode=mode, n=n, status="timed_out", seconds_over=args.timeout_s)
                    prev = (n, float(args.timeout_s))  # larger N would take longer still
                    continue
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if line is None:
                    C.result("heads", head=head, mode=mode, n=n, status="failed",
                             reason=(proc.stderr.strip().splitlines() or ["?"])[-1][:160].replace(" ", "_"))
                    prev = None
                    continue
                res = json.loads(line[7:])
                C.result("heads", head=head, mode=mode, n=n, seconds=res["seconds"], peak_rss_mib=res["maxrss_mib"],
                         load=C.load())
                prev = (n, res["seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
