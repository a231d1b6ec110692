"""Fidelity of the OpenVINO runtime against torch, per built-in model: min cosine and max abs
difference of the penultimate features on the same real images (fp32; random weights for models
whose weights are not shipped, the shipped ImageNet weights for the default model). The reference
is the eager model as it is (no BatchNorm folding); the torch runtime's CPU path (BatchNorms
folded, see featx.extract.runtime._bnfold) is compared with the same reference (``torch_folded_*``).

    .venv/bin/python benchmarks/bench_runtime_fidelity.py --source ../shared/data/hymenoptera -n 16
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
from bench_runtime import preloaded  # noqa: E402


def _agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.min()), float(np.abs(a - b).max())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True)
    p.add_argument("-n", type=int, default=16)
    args = p.parse_args(argv)
    import openvino

    C.header("runtime_fidelity", {"n": args.n, "openvino": openvino.get_version()})
    import torch

    from featx.extract import BUILTIN, FeatureComputer, build_backbone, resolve_layers
    from featx.extract.runtime._openvino import OpenVINOComputer

    cases = [("efficientnet_lite0", "default")] + [(name, "none") for name in BUILTIN]
    for name, weights in cases:
        backbone = build_backbone(name, weights)
        layers = resolve_layers(backbone, None, dims=False).names
        batch = preloaded(args.source, backbone, args.n)
        a = OpenVINOComputer(backbone, layers, "avg")(batch)[layers[0]]
        tc = FeatureComputer(backbone, layers, "avg", torch.device("cpu"), None, fold_bn=False)
        b = tc(batch)[layers[0]]
        tc.close()
        folded = FeatureComputer(backbone, layers, "avg", torch.device("cpu"), None)
        f = folded(batch)[layers[0]]
        folded.close()
        scale = float(np.abs(b).max())
        cos, diff = _agreement(a, b)
        fcos, fdiff = _agreement(f, b)
        C.result(f"{name}[{weights}]", layer=layers[0], min_cosine=f"{cos:.8f}", max_abs_diff=diff,
                 max_abs_value=scale, relative=diff / scale, torch_folded_pairs=folded.folded,
                 torch_folded_min_cosine=f"{fcos:.8f}", torch_folded_relative=fdiff / scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
