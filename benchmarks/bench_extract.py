"""Extraction throughput, end to end, against the forward-only ceiling and hand-written loops.

Cases (run interleaved, one round after another, so every ratio compares runs made under the
same machine load; medians over ``--repeats`` rounds):

- ``ceiling``: featx's own device side (``FeatureComputer``: normalise, channels_last, precision,
  layer tap with early exit, pooling) on preloaded uint8 batches: the forward pass alone, same
  batch size, precision, memory format and runtime as featx uses.
- ``eager_nchw_fp32``: the plain model, NCHW float32, preloaded normalised tensors (reference).
- ``featx``: ``featx.extract.extract`` from files to a new HDF5 cache (read, hash, decode,
  resize, forward, pool, write), default settings (on the CPU: decoding in the main process
  with a thread pool between forward passes).
- ``featx_pool2``: the same with ``workers=2``: two DataLoader worker processes decoding while
  the forward pass runs (featx's default on a GPU).
- ``cache_hit``: the same ``extract`` call again on the finished cache, backbone built from
  scratch as a rerun of the CLI would (no model work should happen).
- ``plain_b64`` / ``plain_b1``: what users write by hand: PIL open + torchvision transforms
  (Resize, CenterCrop, ToTensor, Normalize) + model with its classifier removed, one process,
  batches of 64 / single images, features kept in a list and written to HDF5 at the end.

    .venv/bin/python benchmarks/bench_extract.py --model efficientnet_lite0 --source /work/bench-data/jpeg5k --limit 1024 --repeats 3
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

CASES = ("ceiling", "eager_nchw_fp32", "featx", "featx_pool2", "cache_hit", "plain_b64", "plain_b1")


def _plain_model(backbone):
    """The model as a user would strip it: classifier replaced by Identity, NCHW fp32."""
    import torch
    from featx.extract.models._layers import classifier_name

    model = copy.deepcopy(backbone.module).to(memory_format=torch.contiguous_format).eval()
    name = classifier_name(model)
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, torch.nn.Identity())
    return model


def _user_transform(pre):
    from torchvision import transforms as T

    return T.Compose([
        T.Resize(pre.resize_size, interpolation=T.InterpolationMode(pre.interpolation)),
        T.CenterCrop(pre.crop_size),
        T.ToTensor(),
        T.Normalize(pre.mean, pre.std),
    ])


def plain_loop(files, model, tf, batch_size, out_path) -> int:
    import h5py
    import torch
    from PIL import Image

    feats = []
    with torch.inference_mode():
        for start in range(0, len(files), batch_size):
            xs = []
            for f in files[start:start + batch_size]:
                try:
                    xs.append(tf(Image.open(f).convert("RGB")))
                except Exception:
                    continue
            if xs:
                feats.append(model(torch.stack(xs)).numpy())
    X = np.concatenate(feats)
    with h5py.File(out_path, "w") as fh:
        fh.create_dataset("features", data=X.astype(np.float16))
    return len(X)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--weights", default=None, help="default: 'default' for efficientnet_lite0, 'none' otherwise")
    p.add_argument("--source", default=C.HYMENOPTERA)
    p.add_argument("--limit", type=int, default=None, help="use the first N images of the source")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=None, help="featx workers (default: featx's choice)")
    p.add_argument("--ceiling-batches", type=int, default=8, help="batches timed per ceiling measurement")
    p.add_argument("--plain-b1-limit", type=int, default=128, help="images for the batch-1 loop (it is slow)")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--workdir", default=None)
    args = p.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]  # 'ceiling' may appear twice (before and after)
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        p.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    weights = args.weights or ("default" if args.model == "efficientnet_lite0" else "none")

    import torch
    from featx.extract import FeatureComputer, build_backbone, extract, resolve_layers
    from featx.extract import resolve_precision

    workdir = args.workdir or tempfile.mkdtemp(prefix="featx-bench-", dir=C.BENCH_DATA if os.path.isdir(C.BENCH_DATA) else None)
    source = C.subset_manifest(args.source, args.limit, workdir)
    files, _ = C.image_files(source)
    n = len(files)
    C.header("extraction throughput", {"model": args.model, "weights": weights, "source": args.source, "images": n,
                                       "batch_size": args.batch_size, "repeats": args.repeats, "cases": cases,
                                       "workers": args.workers})
    backbone = build_backbone(args.model, weights)
    layers, _dims = resolve_layers(backbone, None, "avg")
    dev = torch.device("cpu")
    pre = backbone.preprocessing

    # preloaded inputs: the first batch of real images, preprocessed exactly as featx does
    from featx.extract.images._images import decode_rgb, read_bytes

    tf = pre.pil_transform()
    batch = torch.stack([tf(decode_rgb(read_bytes(f), draft_size=pre.resize_size)) for f in files[:args.batch_size]])
    if len(batch) < args.batch_size:
        batch = batch.repeat((args.batch_size + len(batch) - 1) // len(batch), 1, 1, 1)[:args.batch_size]
    plain = _plain_model(backbone) if {"eager_nchw_fp32", "plain_b64", "plain_b1"} & set(cases) else None
    xf = pre.normalize(batch)
    if plain is not None:
        with torch.inference_mode():
            plain(xf[:2])
    user_tf = _user_transform(pre)
    out = os.path.join(workdir, "featx.h5")

    cpu_ms = {}  # case -> CPU milliseconds per image, per measurement

    def run_ceiling():
        computer = FeatureComputer(backbone, layers, "avg", dev, resolve_precision("auto", dev))
        try:
            computer(batch)  # warm-up
            with C.Timer() as t:
                for _ in range(args.ceiling_batches):
                    computer(batch)
        finally:
            computer.close()  # its hooks must not stay on the module that extract() taps
        cpu_ms.setdefault("ceiling", []).append(t.cpu_seconds * 1e3 / (args.ceiling_batches * len(batch)))
        return args.ceiling_batches * len(batch) / t.seconds

    def run_eager():
        with torch.inference_mode(), C.Timer() as t:
            for _ in range(args.ceiling_batches):
                plain(xf)
        return args.ceiling_batches * len(batch) / t.seconds

    state = {}

    def run_featx(workers=args.workers, case="featx"):
        with C.Timer() as t:
            s = extract(source, out, backbone=backbone, batch_size=args.batch_size, workers=workers,
                        overwrite=True, progress=False)
        if case == "featx":
            state["featx_seconds"] = t.seconds
        cpu_ms.setdefault(case, []).append(t.cpu_seconds * 1e3 / max(1, s.extracted))
        return s.extracted / t.seconds

    def run_cache_hit():
        if not os.path.exists(out):
            run_featx()
        with C.Timer() as t:
            s = extract(source, out, model=args.model, weights=weights, batch_size=args.batch_size, progress=False)
        assert s.extracted == 0, s.line()
        state["cache_hit_seconds"] = t.seconds
        return t.seconds

    def run_plain(bs, limit=None):
        sub = files[:limit] if limit else files
        with C.Timer() as t:
            k = plain_loop(sub, plain, user_tf, bs, os.path.join(workdir, f"plain{bs}.h5"))
        return k / t.seconds

    runners = {
        "ceiling": run_ceiling, "eager_nchw_fp32": run_eager, "featx": run_featx, "cache_hit": run_cache_hit,
        "featx_pool2": lambda: run_featx(2, "featx_pool2"),
        "plain_b64": lambda: run_plain(64), "plain_b1": lambda: run_plain(1, args.plain_b1_limit),
    }
    values = {c: [] for c in cases}
    ceiling = []  # per round: the mean of that round's ceiling measurements
    hit_fraction = []
    for r in range(args.repeats):
        round_ceiling = []
        for c in cases:
            v = runners[c]()
            if c == "ceiling":
                round_ceiling.append(v)
            else:
                values[c].append(v)
            if c == "cache_hit" and "featx_seconds" in state:
                hit_fraction.append(state["cache_hit_seconds"] / state["featx_seconds"])
            print(f"# round {r + 1}: {c} {v:.4g} (load {C.load()})", flush=True)
        if round_ceiling:
            values["ceiling"].append(sum(round_ceiling) / len(round_ceiling))
            ceiling.append(values["ceiling"][-1])
    for c in dict.fromkeys(cases):
        v = values[c]
        if c == "cache_hit":
            C.result(c, model=args.model, images=n, seconds_median=C.median(v), seconds_all=v,
                     fraction_of_extraction_median=C.median(hit_fraction) if hit_fraction else "n/a")
            continue
        fields = dict(model=args.model, images=(min(n, args.plain_b1_limit) if c == "plain_b1" else n),
                      img_s_median=C.median(v), img_s_all=v)
        if ceiling and c != "ceiling":
            fields["ratio_to_ceiling_median"] = C.median([a / b for a, b in zip(v, ceiling)])
        if c in cpu_ms:
            fields["cpu_ms_per_img_median"] = C.median(cpu_ms[c])
        C.result(c, **fields)
    if "ceiling" in cpu_ms and "featx" in cpu_ms:
        # on an idle machine both saturate the cores, so this predicts the wall-time ratio there
        C.result("cpu_efficiency", model=args.model, images=n,
                 ceiling_cpu_over_featx_cpu=C.median(cpu_ms["ceiling"]) / C.median(cpu_ms["featx"]))
    print(f"# load average at end: {C.load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
