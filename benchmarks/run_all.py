"""The CPU benchmark suite at `make bench` size (about 15 minutes on an idle 2-core machine).

Runs each benchmark script as its own process with small repeats and prints their output; the
longer measurements quoted in BENCHMARKS.md are separate commands listed there. Generated data
(the 5,000 JPEGs, caches, the thingsvision venv) lives under $FEATX_BENCH_DATA (default
/work/bench-data), never in the repository. The output is also saved to
$FEATX_BENCH_DATA/results/run_all-<time>.txt.

    .venv/bin/python benchmarks/run_all.py [--skip thingsvision,heads]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common as C  # noqa: E402

SUITE = [
    ("data", ["make_jpeg5k.py"]),
    ("extract-hymenoptera", ["bench_extract.py", "--source", C.HYMENOPTERA, "--repeats", "1", "--ceiling-batches", "2",
                             "--plain-b1-limit", "32"]),
    ("extract-jpeg5k", ["bench_extract.py", "--source", C.JPEG5K, "--limit", "512", "--repeats", "1",
                        "--cases", "ceiling,featx,cache_hit,ceiling", "--ceiling-batches", "3"]),
    ("extract-resnet50", ["bench_extract.py", "--model", "resnet50", "--source", C.HYMENOPTERA, "--limit", "64",
                          "--repeats", "1", "--cases", "ceiling,eager_nchw_fp32,featx,ceiling", "--ceiling-batches", "1"]),
    ("decode", ["bench_decode.py", "--images", "32", "--repeats", "2"]),
    ("memory", ["bench_memory.py", "--sizes", "500,2500", "--model", "timm:mobilenetv3_small_100", "--weights", "none"]),
    ("heads", ["bench_heads.py", "--sizes", "400,2000", "--budget-s", "20", "--timeout-s", "60"]),
    ("thingsvision", ["bench_thingsvision.py", "--limit", "128", "--repeats", "1"]),
]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip", default="", help="comma-separated suite parts to skip: " + ", ".join(n for n, _ in SUITE))
    p.add_argument("--only", default="", help="run only these parts")
    args = p.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    only = set(filter(None, args.only.split(",")))
    results = os.path.join(C.BENCH_DATA, "results")
    os.makedirs(results, exist_ok=True)
    log_path = os.path.join(results, time.strftime("run_all-%Y%m%d-%H%M%S.txt"))
    t_all = time.perf_counter()
    failed = []
    with open(log_path, "w") as log:
        def emit(text):
            sys.stdout.write(text)
            sys.stdout.flush()
            log.write(text)
            log.flush()

        emit(f"# featx benchmark suite, load average at start {C.load()}, output also in {log_path}\n")
        for name, cmd in SUITE:
            if name in skip or (only and name not in only):
                continue
            t = time.perf_counter()
            emit(f"\n## {name}\n")
            proc = subprocess.Popen([sys.executable, os.path.join(HERE, cmd[0]), *cmd[1:]], cwd=C.REPO,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout:
                if "Warning" in line or line.startswith("  "):  # library warnings: not results
                    continue
                emit(line)
            if proc.wait() != 0:
                failed.append(name)
            emit(f"# {name}: {time.perf_counter() - t:.0f}s (rc {proc.returncode})\n")
        emit(f"\n# suite finished in {time.perf_counter() - t_all:.0f}s; failed: {failed or 'none'}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
