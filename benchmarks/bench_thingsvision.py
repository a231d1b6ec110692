"""featx against thingsvision 2.7.3 (the closest peer: layer activations to HDF5) on the same
images, model and layer, alternating the two tools round by round.

thingsvision lives in its own venv (``--tv-python``, default /work/bench-data/tv-venv) so it does
not constrain featx's dependencies; BENCHMARKS.md gives the install recipe. Both sides run as
fresh subprocesses and are timed from after model construction to the finished HDF5 file; random
weights on both sides (timing does not depend on them).

    .venv/bin/python benchmarks/bench_thingsvision.py --limit 512 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

_FEATX = r"""
import json, sys, time
from featx.extract import build_backbone, extract
src, out, model = sys.argv[1:4]
bb = build_backbone(model, "none")
t = time.perf_counter()
s = extract(src, out, backbone=bb, overwrite=True, progress=False)
print("RESULT " + json.dumps({"images": s.extracted, "seconds": time.perf_counter() - t}))
"""


def class_folder_subset(root: str, n: int, workdir: str) -> str:
    """thingsvision reads class folders only: symlink the first ``n`` images (featx's order)."""
    files, labels = C.image_files(C.subset_manifest(root, n, workdir))
    from featx.extract import open_source

    names = open_source(root).class_names
    out = os.path.join(workdir, f"tv-first{len(files)}")
    shutil.rmtree(out, ignore_errors=True)
    for f, lab in zip(files, labels):
        d = os.path.join(out, names[lab])
        os.makedirs(d, exist_ok=True)
        os.symlink(f, os.path.join(d, os.path.basename(f)))
    return out


def _run(cmd) -> dict:
    p = subprocess.run(cmd, capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{cmd[0]} failed (rc {p.returncode}): {p.stderr[-1500:]}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=C.JPEG5K)
    p.add_argument("--limit", type=int, default=512)
    p.add_argument("--model", default="efficientnet_lite0", choices=("efficientnet_lite0", "resnet50"))
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--tv-python", default=C.TV_PYTHON)
    args = p.parse_args(argv)
    C.header("featx vs thingsvision", {"source": args.source, "images": args.limit, "model": args.model,
                                       "repeats": args.repeats, "tv_python": args.tv_python})
    if not os.path.exists(args.tv_python):
        C.result("thingsvision", status="not-run", reason=f"no thingsvision venv at {args.tv_python}")
        return 0
    workdir = tempfile.mkdtemp(prefix="featx-tv-", dir=C.BENCH_DATA if os.path.isdir(C.BENCH_DATA) else None)
    src = class_folder_subset(args.source, args.limit, workdir)
    tv_script = os.path.join(C.HERE, "_tv_extract.py")
    featx, tv = [], []
    for r in range(args.repeats):
        out = os.path.join(workdir, "tv-out")
        shutil.rmtree(out, ignore_errors=True)
        t = _run([args.tv_python, tv_script, "--source", src, "--model", args.model, "--out", out])
        tv.append(t["images"] / t["seconds"])
        print(f"# round {r + 1}: thingsvision {tv[-1]:.4g} img/s ({t}) load {C.load()}", flush=True)
        f = _run([sys.executable, "-c", _FEATX, src, os.path.join(workdir, "featx.h5"), args.model])
        featx.append(f["images"] / f["seconds"])
        print(f"# round {r + 1}: featx {featx[-1]:.4g} img/s load {C.load()}", flush=True)
    C.result("thingsvision", model=args.model, images=args.limit, img_s_median=C.median(tv), img_s_all=tv)
    C.result("featx", model=args.model, images=args.limit, img_s_median=C.median(featx), img_s_all=featx,
             speedup_vs_thingsvision_median=C.median([a / b for a, b in zip(featx, tv)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
