"""The transfer study (issue 15) on hymenoptera: its cost per approach on this machine, and the
speed-up of the OpenVINO runtime on its extraction stages, side by side in one run.

1. ``featx run`` of the study spec of tests/e2e/test_transfer_hymenoptera.py into ``--output``
   (resumable: a rerun reuses every finished unit, and the records keep the seconds of the run
   that computed them). One ``result`` line per transfer record: held-out score, epochs, seconds.
2. The extraction stages of the study, timed with ``--runtime torch`` and ``--runtime openvino``
   in interleaved rounds into fresh caches: the frozen backbone and the fine-tuned ``partial:2``
   checkpoint (the study's ``finetuned_features`` extraction), every image of the source.

    .venv/bin/python benchmarks/bench_transfer.py --output /tmp/transfer-bench --repeats 2
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
_TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
sys.path[:0] = [_TESTS, os.path.join(_TESTS, "e2e")]  # the study's spec is the end-to-end test's
import _common as C  # noqa: E402


def run_study(source: str, output: str) -> dict:
    from test_transfer_hymenoptera import hymenoptera_transfer_spec

    from featx.pipelines._spec import to_toml

    os.makedirs(output, exist_ok=True)
    spec_path = os.path.join(output, "transfer.toml")
    with open(spec_path, "w", encoding="utf-8") as fh:
        fh.write(to_toml(hymenoptera_transfer_spec(source, os.path.join(output, "out"))))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "featx.pipelines.cli", "run", spec_path], check=True)
    wall = time.perf_counter() - t0
    with open(os.path.join(output, "out", "results.json"), encoding="utf-8") as fh:
        doc = json.load(fh)
    C.result("study_wall", seconds=round(wall, 1), note="this run (a rerun reuses finished units)")
    for stage, seconds in doc["timings"].items():
        C.result(f"stage_{stage}", seconds=round(seconds, 1))
    for r in doc["transfer"]:
        C.result(f"{r['approach']}:{r['strategy'] or '-'}:{r['head'] or '-'}", n_train=r["n_train"], n_test=r["n_test"],
                 balanced_accuracy=round(r["balanced_accuracy_mean"], 3),
                 ci95=f"{r['balanced_accuracy_ci95_low']:.3f}-{r['balanced_accuracy_ci95_high']:.3f}",
                 epochs=r["epochs_run"], seconds=round(r["seconds"], 1))
    for p in doc["transfer_efficiency"]:
        C.result(f"efficiency:{p['fraction']:g}:{p['approach']}:{p['strategy'] or '-'}:{p['head'] or '-'}",
                 n_train=p["n_train"], balanced_accuracy=round(p["balanced_accuracy_mean"], 3), seconds=round(p["seconds"], 1))
    print(doc["transfer_study"]["verdicts"]["hymenoptera"]["text"], flush=True)
    return doc


def time_extraction(source: str, model: str, runtime: str, folder: str) -> float:
    from featx.extract import extract

    out = tempfile.mktemp(suffix=".h5", dir=folder)
    t0 = time.perf_counter()
    extract(source, out, model=model, layers=["penultimate"], runtime=runtime, progress=False)
    seconds = time.perf_counter() - t0
    os.unlink(out)
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=C.HYMENOPTERA)
    p.add_argument("--output", default="/tmp/transfer-bench")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--skip-study", action="store_true", help="only the extraction runtimes (the study must have run)")
    args = p.parse_args(argv)
    C.header("bench_transfer", {"source": args.source, "output": args.output})
    if not args.skip_study:
        run_study(args.source, args.output)
    tuned = sorted(glob.glob(os.path.join(args.output, "out", "transfer", "hymenoptera--pretrained-partial2--*.pt")))
    models = {"frozen": "efficientnet_lite0", "finetuned_features": tuned[-1] if tuned else None}
    with tempfile.TemporaryDirectory() as folder:
        for stage, model in models.items():
            if model is None:
                continue
            times = {"torch": [], "openvino": []}
            for _ in range(args.repeats):
                for runtime in times:  # interleaved, so both see the same machine load
                    times[runtime].append(time_extraction(args.source, model, runtime, folder))
            torch_s, ov_s = C.median(times["torch"]), C.median(times["openvino"])
            C.result(f"extract_{stage}", torch_seconds=round(torch_s, 1), openvino_seconds=round(ov_s, 1),
                     speedup=round(torch_s / ov_s, 2), repeats=args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
