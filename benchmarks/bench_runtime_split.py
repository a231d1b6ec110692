"""The OpenVINO extraction loop's thread and request split, measured side by side in one run:
infer requests per stream (1: the stream idles while this thread collects its last image; 2: the
next image is already queued), decode threads (1 or ``torch.get_num_threads()``) and batches
decoded ahead (1 or 2), each the whole in-process ``extract()`` of the first ``-n`` images of a
folder into a new cache (backbone built once; the compiled model reused), against the OpenVINO
forward-only ceiling measured in the same rounds. The features of every case are checked to be
bitwise equal to the first case's.

    .venv/bin/python benchmarks/bench_runtime_split.py --source /tmp/jpeg2k -n 256 --repeats 2
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def manifest(source: str, n: int, folder: str) -> str:
    files, labels = C.image_files(source)
    path = os.path.join(folder, "subset.csv")
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        for f, y in list(zip(files, labels))[:n]:
            w.writerow([os.path.abspath(f), y])
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True)
    p.add_argument("-n", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seconds", type=float, default=4.0, help="seconds of the forward-only ceiling per round")
    args = p.parse_args(argv)
    C.header("runtime_split", {"n": args.n, "repeats": args.repeats})
    import torch

    from featx.extract import build_backbone, extract, read_cache

    from featx.extract.images import _loading

    from featx.extract.runtime import _openvino
    from featx.extract.runtime._openvino import OpenVINOComputer

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_runtime import openvino_ceiling, preloaded

    cores = torch.get_num_threads()
    backbone = build_backbone("efficientnet_lite0")
    batch = preloaded(args.source, backbone, 64)
    cases = list(itertools.product((1, 2), sorted({1, cores}), (1, 2)))  # requests/stream, decode threads, ahead
    default_threads = _loading.decode_threads
    out: dict[str, list[float]] = {}
    reference = None
    with tempfile.TemporaryDirectory() as tmp:
        source = manifest(args.source, args.n, tmp)
        for r in range(args.repeats):
            ceiling = OpenVINOComputer(backbone, ["global_pool"], "avg")
            out.setdefault("ceiling", []).append(openvino_ceiling(ceiling, batch, args.seconds))
            for requests, threads, ahead in cases:
                _openvino.REQUESTS_PER_STREAM = requests
                _loading.decode_threads = lambda t=threads: t
                _loading.OPENVINO_AHEAD = ahead
                cache = os.path.join(tmp, f"c{r}_{requests}_{threads}_{ahead}.h5")
                t0 = time.perf_counter()
                extract(source, cache, backbone=backbone, layers="global_pool", progress=False, runtime="openvino")
                seconds = time.perf_counter() - t0
                name = f"requests{requests}_decode{threads}_ahead{ahead}"
                out.setdefault(name, []).append(args.n / seconds)
                feats = read_cache(cache).features["global_pool"]
                reference = feats if reference is None else reference
                assert np.array_equal(feats, reference), f"{name}: features differ"
                print(f"# {name}: {args.n / seconds:.1f} img/s (load {C.load()})", flush=True)
        _loading.decode_threads = default_threads
    ov = C.median(out.pop("ceiling"))
    C.result("openvino_ceiling", img_s=ov)
    for name, rates in out.items():
        C.result(name, img_s=C.median(rates), vs_ceiling=C.median(rates) / ov)
    print(f"# load average at end (1/5/15 min): {C.load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
