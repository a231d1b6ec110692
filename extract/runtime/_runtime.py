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
from featx.extract._errors import ExtractError
from featx.extract._options import RUNTIME, RUNTIMES


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _openvino_missing() -> str | None:
    """Why OpenVINO cannot be used here (None: it can)."""
    try:
        import openvino  # noqa: F401
    except Exception as exc:  # an ImportError, or a broken native library
        return f"{type(exc).__name__}: {exc}"
    return None


def choose_runtime(runtime: str, device: torch.device) -> str:
    """``torch`` or ``openvino`` for ``runtime`` on ``device`` (before anything is built)."""
    if runtime not in RUNTIMES:
        raise ExtractError(f"runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}")
    if runtime == "torch" or (runtime == "auto" and device.type != "cpu"):
        return "torch"
    if device.type != "cpu":
        raise ExtractError(f"the OpenVINO runtime runs on the CPU only, not on {device}; "
                           "use --device cpu or --runtime torch")
    missing = _openvino_missing()
    if missing:
        if runtime == "openvino":
            raise ExtractError(f"--runtime openvino asked but OpenVINO cannot be imported ({missing}); "
                               "pip install openvino, or use --runtime torch")
        warn(f"OpenVINO cannot be imported ({missing}); using the torch runtime")
        return "torch"
    return "openvino"


def build_runtime(runtime: str, backbone: Backbone, layers: list[str], pool: str, device: torch.device,
                  precision: str = "auto", tta: str = "none", *, threads: int | None = None,
                  cache_dir: str | None = None):
    """The runtime ``runtime`` (auto, torch or openvino) for ``backbone``'s ``layers``."""
    name = choose_runtime(runtime, device)
    if name == "openvino":
        from featx.extract.runtime._openvino import OpenVINOComputer, RuntimeUnsupported

        try:
            return OpenVINOComputer(backbone, layers, pool, precision, tta, threads=threads, cache_dir=cache_dir)
        except RuntimeUnsupported as exc:
            what = f"{backbone.spec.name} with layer(s) {', '.join(layers)}"
            if runtime == "openvino":
                raise ExtractError(f"OpenVINO cannot run {what} ({exc}); use --runtime torch") from None
            warn(f"OpenVINO cannot run {what} ({exc}); using the torch runtime")
    return FeatureComputer(backbone, layers, pool, device, resolve_precision(precision, device), tta)
