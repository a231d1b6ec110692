"""The torch runtime's CPU wins, side by side in one run: BatchNorm folding (featx.extract.runtime._bnfold)
and chunked forward passes (a batch of 64 run as chunks of 4, 8, 16 or 64 images), forward-only
on preloaded real images, channels_last fp32, the cases interleaved round by round. Each case's
features are compared with the unfolded batch-64 reference: bitwise equality across chunk sizes,
and the folded model's max abs difference relative to the feature scale.

    .venv/bin/python benchmarks/bench_runtime_torch.py --source ../shared/data/hymenoptera --repeats 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
from bench_runtime import preloaded  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True)
    p.add_argument("--model", action="append", help="built-in model (repeatable; default efficientnet_lite0, resnet18)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    C.header("runtime_torch", {"repeats": args.repeats})
    import torch

    from featx.extract import build_backbone
    from featx.extract.runtime._bnfold import fold_batchnorms

    for name in args.model or ["efficientnet_lite0", "resnet18"]:
        backbone = build_backbone(name, "default" if name == "efficientnet_lite0" else "none")
        batch = preloaded(args.source, backbone, 64)
        x = backbone.preprocessing.normalize(batch).contiguous(memory_format=torch.channels_last)
        plain = backbone.module.eval().to(memory_format=torch.channels_last)
        folded, pairs = fold_batchnorms(plain, [])
        folded = folded.to(memory_format=torch.channels_last)

        def run(module, chunk):
            with torch.inference_mode():
                return torch.cat([module(x[i:i + chunk]) for i in range(0, len(x), chunk)])

        reference = run(plain, 64)
        folded_reference = run(folded, 64)
        scale = float(reference.abs().max())
        folded_diff = float((folded_reference - reference).abs().max()) / scale
        cases = [(label, module, chunk) for label, module in (("plain", plain), ("folded", folded))
                 for chunk in (4, 8, 16, 64)]
        rates: dict[str, list[float]] = {}
        same: dict[str, bool] = {}
        for _ in range(args.repeats):
            for label, module, chunk in cases:
                t0 = time.perf_counter()
                out = run(module, chunk)
                rates.setdefault(f"{label}_chunk{chunk}", []).append(len(x) / (time.perf_counter() - t0))
                base = reference if label == "plain" else folded_reference
                same[f"{label}_chunk{chunk}"] = same.get(f"{label}_chunk{chunk}", True) and bool(torch.equal(out, base))
        base = C.median(rates["plain_chunk64"])
        for case, r in rates.items():
            label = case.split("_")[0]
            diff = folded_diff if label == "folded" else 0.0
            C.result(f"{name}:{case}", img_s=C.median(r), vs_plain64=C.median(r) / base,
                     bitwise_as_chunk64=same[case], folded_pairs=pairs if label == "folded" else 0,
                     relative_diff_vs_plain=diff)
        print(f"# load average after {name}: {C.load()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
