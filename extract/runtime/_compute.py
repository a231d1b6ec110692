"""The device side of extraction: device and autocast precision choice, and the feature computer
(normalise a uint8 batch, run the tapped backbone, pool, return numpy).

The ``device``, ``precision`` and ``tta`` settings are defined in :mod:`._options`.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np
import torch

from featx.extract.models._backbones import Backbone
from featx.extract.runtime._bnfold import fold_batchnorms
from featx.extract._errors import ExtractError
from featx.extract.models._layers import LayerTap
from featx.extract._options import DEVICE, PRECISION, PRECISIONS, TTA, TTAS  # noqa: F401 (re-exported)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` (cuda > mps > cpu) or a torch device name, checked to be usable here."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ExtractError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ExtractError(f"device {device!r} asked but CUDA is not available here; use --device cpu or auto")
    return dev


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype (None: plain fp32)."""
    if precision not in PRECISIONS:
        raise ExtractError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return None
    if precision == "fp32":
        return None
    if precision == "fp16" and device.type == "cpu":
        raise ExtractError("fp16 autocast needs a GPU; use --precision fp32 or bf16 on the CPU")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def check_tta(tta: str | None) -> str:
    """The TTA choice (None -> 'none'), checked."""
    tta = tta or "none"
    if tta not in TTAS:
        raise ExtractError(f"tta must be one of {', '.join(TTAS)}; got {tta!r}")
    return tta


@contextlib.contextmanager
def one_thread():
    """Dry runs on one image go single-threaded: on a busy CPU, every small op of a 2-thread
    OpenMP forward waits for both threads to be scheduled (measured at load 11 on 2 cores: 6-9 s
    per dry run instead of 0.7-0.9 s); on an idle machine the difference is a few milliseconds."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def precision_name(autocast_dtype: torch.dtype | None) -> str:
    """``fp32`` (no autocast), ``bf16`` or ``fp16``: the precision as the cache spec records it."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[autocast_dtype]


class FeatureComputer:
    """The torch runtime (see :mod:`._runtime`): normalise a uint8 batch, run the tapped backbone,
    pool, return numpy. On the CPU it runs a copy of the backbone with its BatchNorms folded into
    the convolutions (``fold_bn=False``: the module as it is; see :mod:`._bnfold`)."""

    name = "torch"

    def __init__(self, backbone: Backbone, layers: list[str], pool: str, device: torch.device,
                 autocast_dtype: torch.dtype | None, tta: str = "none", channels_last: bool = True,
                 fold_bn: bool = True):
        self.backbone = backbone
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.tta = check_tta(tta)
        self.channels_last = channels_last and device.type != "mps"
        module = backbone.module.to(device).eval()
        self.folded = 0  # conv + BatchNorm pairs folded (CPU only: a copy of the module, see _bnfold)
        if fold_bn and device.type == "cpu":
            module, self.folded = fold_batchnorms(module, list(layers))
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.tap = LayerTap(module, layers, pool)
        self.layers = list(layers)
        self.max_chunk: int | None = None

    def spec(self) -> dict:
        """The runtime as recorded in (and compared against) the cache spec."""
        return {"name": self.name, "version": torch.__version__, "precision": precision_name(self.autocast_dtype)}

    def __call__(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        x = images.to(self.device, non_blocking=True)
        x = self.backbone.preprocessing.normalize(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self._forward_chunks(x)
        return {k: v.to("cpu").numpy() for k, v in out.items()}

    def _forward_chunks(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        size = self.max_chunk or len(x)
        parts = []
        start = 0
        while start < len(x):
            chunk = x[start:start + size]
            try:
                parts.append(self._forward(chunk))
                start += len(chunk)
            except torch.cuda.OutOfMemoryError:
                if size == 1:
                    raise ExtractError("CUDA ran out of memory even for one image; use a smaller model or --device cpu") from None
                torch.cuda.empty_cache()
                size = max(1, size // 2)
                self.max_chunk = size
                print(f"CUDA out of memory: batch size halved to {size}", file=sys.stderr)
        return {k: torch.cat([p[k] for p in parts]) for k in self.layers}

    def _forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode(), torch.autocast(
            device_type=self.device.type, dtype=self.autocast_dtype or torch.float32,
            enabled=self.autocast_dtype is not None,
        ):
            if self.tta == "hflip":
                both = self.tap(torch.cat([x, x.flip(-1)]))
                n = len(x)
                return {k: (v[:n] + v[n:]) / 2 for k, v in both.items()}
            return self.tap(x)

    def close(self):
        self.tap.close()
