"""Peak memory of ``featx extract`` as the number of images grows (it must stay flat: features
stream to HDF5 batch by batch, never held in RAM).

Each size runs the real CLI in a fresh subprocess under its own small parent, which reads
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: the peak resident set of the largest process
of that job (the main process; DataLoader workers are included as its children).

    .venv/bin/python benchmarks/bench_memory.py --sizes 1000,5000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

_PARENT = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
print(json.dumps({"rc": p.returncode, "seconds": time.perf_counter() - t,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "stderr": p.stderr[-400:]}))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=C.JPEG5K)
    p.add_argument("--sizes", default="1000,5000")
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--weights", default="default")
    p.add_argument("--workdir", default=None)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = args.workdir or tempfile.mkdtemp(prefix="featx-mem-", dir=C.BENCH_DATA if os.path.isdir(C.BENCH_DATA) else None)
    C.header("peak RSS of featx extract", {"source": args.source, "sizes": sizes, "model": args.model})
    peaks = {}
    for n in sizes:
        src = C.subset_manifest(args.source, n, workdir)
        out = os.path.join(workdir, f"mem{n}.h5")
        cmd = [sys.executable, "-m", "featx.pipelines", "extract", src, "-o", out, "--model", args.model,
               "--weights", args.weights, "--overwrite"]
        res = json.loads(subprocess.run([sys.executable, "-c", _PARENT, *cmd], capture_output=True, text=True,
                                        check=True).stdout)
        if res["rc"] != 0:
            print(f"# extract failed: {res['stderr']}")
            return 1
        peaks[n] = res["maxrss_kib"] / 1024
        C.result("peak_rss", model=args.model, images=n, peak_rss_mib=peaks[n], seconds=res["seconds"],
                 img_s=n / res["seconds"])
    if len(peaks) >= 2:
        lo, hi = min(peaks), max(peaks)
        C.result("peak_rss_growth", images=f"{lo}->{hi}", ratio=peaks[hi] / peaks[lo])
    return 0


if __name__ == "__main__":
    sys.exit(main())
