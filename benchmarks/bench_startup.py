"""Start-up of the commands that should answer at once: wall seconds of the whole process
(median of ``--repeats`` runs, the commands interleaved), beside a bare ``python -c pass``.

- ``help``: ``featx --help``; ``models``: ``featx models``; ``info``: ``featx info CACHE``;
- ``rerun``: ``featx extract SOURCE -o CACHE`` on a finished cache of unchanged images (the cache
  is made first when missing, with the default settings);
- ``python``: the interpreter alone (what no command can go below).

    .venv/bin/python benchmarks/bench_startup.py --source ../shared/data/hymenoptera --repeats 7

``--parts``: where a new job's start-up goes, each step timed in a fresh process (median of
``--repeats``): import torch, import timm, build the default backbone (weights + sha256),
resolve ``penultimate``, load and compile the cached OpenVINO model.

The import profile of one command: ``.venv/bin/python -X importtime -m featx.pipelines.cli --help
2>&1 | sort -t'|' -k2 -n | tail``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

_SCRIPT = os.path.join(os.path.dirname(sys.executable), "featx")
FEATX = [_SCRIPT] if os.path.exists(_SCRIPT) else [sys.executable, "-m", "featx.pipelines.cli"]


def seconds(command: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


_PARTS = r"""
import json, time
t = time.perf_counter(); T = {}
def mark(k):
    global t
    now = time.perf_counter(); T[k] = now - t; t = now
import torch; mark("import_torch")
import timm; mark("import_timm")
from featx.extract import build_backbone, resolve_layers
from featx.extract.runtime._compute import one_thread
from featx.extract.runtime._runtime import build_runtime
mark("import_featx_extract")
with one_thread():
    b = build_backbone("efficientnet_lite0")
mark("build_backbone")
names = resolve_layers(b, None, "avg", dims=False).names; mark("resolve_penultimate")
build_runtime("auto", b, names, "avg", torch.device("cpu")); mark("openvino_load_compile")
print("PARTS " + json.dumps(T))
"""


def parts(repeats: int) -> None:
    import json

    out: dict[str, list[float]] = {}
    for _ in range(repeats):
        p = subprocess.run([sys.executable, "-c", _PARTS], capture_output=True, text=True, check=True)
        line = next(x for x in p.stdout.splitlines() if x.startswith("PARTS "))
        for k, v in json.loads(line[6:]).items():
            out.setdefault(k, []).append(v)
    for k, v in out.items():
        C.result(f"part:{k}", seconds=C.median(v))
    C.result("part:total", seconds=sum(C.median(v) for v in out.values()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=C.HYMENOPTERA, help="image folder of the rerun case")
    p.add_argument("--cache", default=None, help="finished cache of SOURCE (default: made in a temporary folder)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--parts", action="store_true", help="also time the steps of a new job's start-up")
    args = p.parse_args(argv)
    C.header("startup", {"repeats": args.repeats, "source": args.source, "command": " ".join(FEATX)})
    if args.parts:
        parts(min(args.repeats, 3))
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or os.path.join(tmp, "rerun.h5")
        made = seconds(FEATX + ["extract", args.source, "-o", cache])  # makes (or reruns) the job
        print(f"# first job: {made:.1f}s (load {C.load()})", flush=True)
        cases = {
            "python": [sys.executable, "-c", "pass"],
            "help": FEATX + ["--help"],
            "models": FEATX + ["models"],
            "info": FEATX + ["info", cache],
            "rerun": FEATX + ["extract", args.source, "-o", cache],
        }
        out: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.repeats):
            for case, command in cases.items():
                out[case].append(seconds(command))
    for case in cases:
        C.result(case, seconds=C.median(out[case]), min_seconds=min(out[case]), max_seconds=max(out[case]))
    print(f"# load average at end (1/5/15 min): {C.load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
