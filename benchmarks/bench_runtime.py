"""The CPU inference runtime: featx end to end against the forward-only ceilings and the pipeline
limit, all measured side by side in one run, plus start-up times.

Cases (each once per round, rounds interleaved; medians over ``--repeats``):

- ``eager_ceiling``: the independent eager forward-only ceiling: the timm model, channels_last,
  fp32, batch 64, preloaded normalised tensors, ``torch.get_num_threads()`` threads.
- ``openvino_ceiling``: featx's OpenVINO runtime on preloaded uint8 batches of 64 (the whole
  device side: normalise, backbone, tap, pool).
- ``decode``: read + sha256 + decode + resize + crop of one image on one core (CPU seconds per
  image, the same path as extraction).
- ``pipeline_limit``: ``cores / (decode core-seconds + cores / openvino_ceiling)``: the most the
  machine can do when decoding and inference share the cores perfectly.
- ``featx`` / ``featx_torch``: the ``featx extract`` process (start-up included) on the source into
  a new cache, default runtime (OpenVINO on the CPU) / ``--runtime torch``.
- ``startup_help``, ``startup_info``, ``rerun``: ``featx --help``, ``featx info CACHE`` and the
  finished-job rerun of ``featx extract``, wall seconds of the process.

    .venv/bin/python benchmarks/make_jpeg5k.py -n 2000 --out /tmp/jpeg2k
    .venv/bin/python benchmarks/bench_runtime.py --source /tmp/jpeg2k --source ../shared/data/hymenoptera
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

FEATX = [sys.executable, "-m", "featx.pipelines.cli"]


def preloaded(source: str, backbone, n: int):
    """The first ``n`` images of ``source`` as one uint8 NCHW channels_last batch."""
    from featx.extract.images._loading import ImageRows, collate

    files, _ = C.image_files(source)
    rows = ImageRows(files[:n], backbone.preprocessing.pil_transform(), hashes=False)
    return collate([rows[i] for i in range(min(n, len(files)))])[1]


def eager_ceiling(backbone, batch, seconds: float) -> float:
    import torch

    module = backbone.module.eval().to(memory_format=torch.channels_last)
    x = backbone.preprocessing.normalize(batch).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        module(x)
        return _rate(lambda: module(x), len(x), seconds)


def openvino_ceiling(computer, batch, seconds: float) -> float:
    computer(batch)
    return _rate(lambda: computer(batch), len(batch), seconds)


def _rate(step, n: int, seconds: float) -> float:
    t0, done = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds or done == 0:
        step()
        done += n
    return done / (time.perf_counter() - t0)


def decode_core_seconds(source: str, backbone, n: int) -> float:
    from featx.extract.images._loading import ImageRows, draft_size

    files, _ = C.image_files(source)
    pre = backbone.preprocessing
    rows = ImageRows(files[:n], pre.pil_transform(), draft_size=draft_size(pre, True))
    with C.Timer() as t:
        for i in range(len(rows.files)):
            rows[i]
    return t.cpu_seconds / len(rows.files)


def process_seconds(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(FEATX + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", action="append", required=True, help="image folder or manifest (repeatable)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--seconds", type=float, default=8.0, help="seconds per forward-only ceiling")
    p.add_argument("--no-torch-e2e", action="store_true", help="skip featx --runtime torch end to end")
    p.add_argument("--torch-e2e-max", type=int, default=0,
                   help="run featx --runtime torch end to end only on sources of at most this many images (0: all)")
    args = p.parse_args(argv)
    import openvino

    C.header("runtime", {"repeats": args.repeats, "seconds": args.seconds, "openvino": openvino.get_version()})
    import torch

    from featx.extract import build_backbone
    from featx.extract.runtime._openvino import OpenVINOComputer

    cores = torch.get_num_threads()
    backbone = build_backbone("efficientnet_lite0")
    layers = ["global_pool"]
    computer = OpenVINOComputer(backbone, layers, "avg")
    batch = preloaded(args.source[0], backbone, 64)
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            out.setdefault("eager_ceiling", []).append(eager_ceiling(backbone, batch, args.seconds))
            out.setdefault("openvino_ceiling", []).append(openvino_ceiling(computer, batch, args.seconds))
            for k, source in enumerate(args.source):
                n = len(C.image_files(source)[0])
                out.setdefault(f"decode[{k}]", []).append(decode_core_seconds(source, backbone, min(n, 200)))
                cache = os.path.join(tmp, f"s{k}.h5")
                # torch first: the rerun below reruns the default (OpenVINO) job that ran last
                for case, extra in (("featx_torch", ["--runtime", "torch"]), ("featx", [])):
                    if case == "featx_torch" and (args.no_torch_e2e or 0 < args.torch_e2e_max < n):
                        continue
                    seconds = process_seconds(["extract", source, "-o", cache, "--overwrite", *extra])
                    out.setdefault(f"{case}[{k}]", []).append(n / seconds)
                    print(f"# {case}[{k}]: {n} images in {seconds:.1f}s (load {C.load()})", flush=True)
                out.setdefault(f"rerun[{k}]", []).append(process_seconds(["extract", source, "-o", cache]))
                out.setdefault("startup_info", []).append(process_seconds(["info", cache]))
            out.setdefault("startup_help", []).append(process_seconds(["--help"]))
            out.setdefault("startup_models", []).append(process_seconds(["models"]))
    eager, ov = C.median(out["eager_ceiling"]), C.median(out["openvino_ceiling"])
    C.result("eager_ceiling", img_s=eager)
    C.result("openvino_ceiling", img_s=ov, vs_eager=ov / eager)
    for k, source in enumerate(args.source):
        decode = C.median(out[f"decode[{k}]"])
        limit = cores / (decode + cores / ov)
        e2e = C.median(out[f"featx[{k}]"])
        C.result(f"source[{k}]", path=source, decode_ms=decode * 1000, pipeline_limit_img_s=limit)
        C.result(f"featx[{k}]", img_s=e2e, vs_eager_ceiling=e2e / eager, vs_openvino_ceiling=e2e / ov,
                 vs_pipeline_limit=e2e / limit)
        if f"featx_torch[{k}]" in out:
            t = C.median(out[f"featx_torch[{k}]"])
            C.result(f"featx_torch[{k}]", img_s=t, vs_eager_ceiling=t / eager, openvino_speedup=e2e / t)
        C.result(f"rerun[{k}]", seconds=C.median(out[f"rerun[{k}]"]))
    for case in ("startup_help", "startup_models", "startup_info"):
        C.result(case, seconds=C.median(out[case]))
    print(f"# load average at end (1/5/15 min): {C.load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
