"""Inference runtimes, chosen by name like a backbone: the ``runtime`` setting and the one
factory building the device side of extraction and prediction.

A runtime is built once from a backbone, the resolved layers, the pooling, the TTA and the
precision; calling it on a uint8 (N, 3, H, W) batch returns ``{layer: (N, D) float32 array}``.
It has ``name``, ``layers``, ``spec()`` (what the cache spec records: name, version, precision)
and ``close()``. Two exist:

- ``torch``: :class:`featx.extract.runtime._compute.FeatureComputer` (eager PyTorch; the GPU path);
- ``openvino``: :class:`featx.extract.runtime._openvino.OpenVINOComputer` (one compiled model, CPU only).

``auto`` is OpenVINO on the CPU and torch on CUDA/MPS. Under ``auto`` a model or layer OpenVINO
cannot take, or an OpenVINO that cannot be imported, falls back to torch with one warning line;
an explicit ``openvino`` fails with one line instead.
"""

from __future__ import annotations

import sys

import torch

from featx.extract.models._backbones import Backbone
from featx.extract.runtime._compute import FeatureComputer, resolve_precision
from featx.common.messages import unknown_choice
from featx.extract.runtime._registry import RUNTIMES, openvino_missing, runtime_spec
from featx.extract._errors import ExtractError


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def choose_runtime(runtime: str, device: torch.device) -> str:
    """The registered runtime ``runtime`` stands for on ``device`` (before anything is built):
    ``auto`` is torch on CUDA/MPS and OpenVINO on the CPU when it can be imported; a named
    runtime that cannot run there fails with its one-line reason."""
    if runtime not in RUNTIMES:
        raise ExtractError(unknown_choice("runtime", runtime, RUNTIMES))
    if runtime == "auto":
        if device.type != "cpu":
            return "torch"
        missing = openvino_missing()
        if missing:
            warn(f"OpenVINO cannot be imported ({missing}); using the torch runtime")
            return "torch"
        return "openvino"
    reason = runtime_spec(runtime).available(device)
    if reason:
        raise ExtractError(reason)
    return runtime


def build_runtime(runtime: str, backbone: Backbone, layers: list[str], pool: str, device: torch.device,
                  precision: str = "auto", tta: str = "none", *, threads: int | None = None,
                  cache_dir: str | None = None):
    """The runtime ``runtime`` (auto, torch or openvino) for ``backbone``'s ``layers``."""
    name = choose_runtime(runtime, device)
    factory = runtime_spec(name).build
    if name == "openvino":
        from featx.extract.runtime._openvino import RuntimeUnsupported

        try:
            return factory(backbone, layers, pool, device, precision, tta, threads=threads, cache_dir=cache_dir)
        except RuntimeUnsupported as exc:
            what = f"{backbone.spec.name} with layer(s) {', '.join(layers)}"
            if runtime == "openvino":
                raise ExtractError(f"OpenVINO cannot run {what} ({exc}); use --runtime torch") from None
            warn(f"OpenVINO cannot run {what} ({exc}); using the torch runtime")
        factory = runtime_spec("torch").build
    return factory(backbone, layers, pool, device, precision, tta, threads=threads, cache_dir=cache_dir)


def torch_factory(backbone, layers, pool, device, precision, tta, *, threads=None, cache_dir=None):
    """The registered ``torch`` runtime: eager PyTorch."""
    return FeatureComputer(backbone, layers, pool, device, resolve_precision(precision, device), tta)


def openvino_factory(backbone, layers, pool, device, precision, tta, *, threads=None, cache_dir=None):
    """The registered ``openvino`` runtime: one compiled model on the CPU."""
    from featx.extract.runtime._openvino import OpenVINOComputer

    return OpenVINOComputer(backbone, layers, pool, precision, tta, threads=threads, cache_dir=cache_dir)
