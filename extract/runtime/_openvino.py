"""The OpenVINO runtime: the whole device side of extraction as one compiled OpenVINO model.

Normalisation, the backbone, every requested layer tap, pooling and TTA are traced once
(``torch.jit.trace`` records the ops the taps' hooks run, so the traced graph ends at the pooled
taps) and converted with ``openvino.convert_model``; the model's input is one uint8 NHWC image,
its outputs are the pooled taps in the order asked. Converted models are kept on disk
(:mod:`._ovcache`), so a second job loads one in a fraction of a second.

Every image is its own inference request (batch 1, one thread per stream, ``threads`` streams,
``REQUESTS_PER_STREAM`` infer requests each, started and waited for in turn): a feature never depends on the batch it came in, the
batch size or the thread count, so caches come out bitwise the same whatever those are. The
precision hint is always explicit (f32 unless ``bf16`` is asked): OpenVINO's own default on
CPUs with AVX-512-BF16 or AMX is bf16, which would silently change the stored features.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import torch
from torch import nn

from featx.extract.runtime import _ovcache
from featx.extract.models._backbones import Backbone
from featx.extract.runtime._compute import check_tta
from featx.extract._errors import ExtractError, RuntimeUnsupported  # noqa: F401 (raised here, caught by _runtime)
from featx.extract.models._layers import LayerTap

GRAPH_VERSION = 1  # bump when the traced graph changes, so cached conversions are rebuilt
HINTS = {"auto": "f32", "fp32": "f32", "bf16": "bf16"}
# infer requests in flight per stream: with more than one, a stream starts its next image while
# this thread is still collecting the last one (measured in BENCHMARKS.md section 9)
REQUESTS_PER_STREAM = 2


_EFFECTIVE = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}
_WARNED: set = set()  # (asked, effective) pairs already warned about in this process


def effective_precision(compiled, asked: str) -> str:
    """The inference precision ``compiled`` reports (fp32, bf16, fp16); one warning per process
    when it differs from ``asked``."""
    try:
        kind = compiled.get_property("INFERENCE_PRECISION_HINT")
        ran = _EFFECTIVE.get(kind.get_type_name() if hasattr(kind, "get_type_name") else str(kind), asked)
    except Exception:  # an OpenVINO without the property: what was asked is all that is known
        return asked
    if ran != asked and (asked, ran) not in _WARNED:
        _WARNED.add((asked, ran))
        print(f"warning: precision {asked} was asked, and OpenVINO runs {ran} on this CPU (no {asked} support); "
              f"the cache records {ran}", file=sys.stderr)
    return ran


def openvino_version() -> str:
    import openvino

    return openvino.get_version()


class TapGraph(nn.Module):
    """uint8 NHWC images -> the pooled taps, as one module to trace: what
    :class:`featx.extract.runtime._compute.FeatureComputer` does with a batch, written as one forward."""

    def __init__(self, backbone: Backbone, layers: list[str], pool: str, tta: str):
        super().__init__()
        pre = backbone.preprocessing
        self.register_buffer("mean", torch.tensor(pre.mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(pre.std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0)
        self.module = backbone.module
        self.tap = LayerTap(backbone.module, layers, pool)
        self.layers = list(layers)
        self.tta = tta

    def forward(self, images: torch.Tensor):
        x = (images.permute(0, 3, 1, 2).to(torch.float32) - self.mean) / self.std
        if self.tta == "hflip":
            both = self.tap(torch.cat([x, x.flip(-1)]))
            n = x.shape[0]
            return tuple((both[k][:n] + both[k][n:]) / 2 for k in self.layers)
        out = self.tap(x)
        return tuple(out[k] for k in self.layers)


def convert(backbone: Backbone, layers: list[str], pool: str, tta: str, size: int):
    """The OpenVINO model of :class:`TapGraph` for ``size`` x ``size`` images; any failure of
    tracing or conversion is a :class:`RuntimeUnsupported` naming its first line."""
    import openvino

    graph = TapGraph(backbone, layers, pool, tta).eval()
    example = torch.zeros(1, size, size, 3, dtype=torch.uint8)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's deprecation notes and tracer warnings: not the user's concern
            traced = torch.jit.trace(graph, example, check_trace=False, strict=False)
        model = openvino.convert_model(traced, example_input=example)
    except Exception as exc:  # tracing or the converter: either way this runtime cannot take it
        raise RuntimeUnsupported(_reason(exc)) from None
    finally:
        graph.tap.close()
    model.reshape([1, size, size, 3])  # batch 1: one request per image
    return model


def _reason(exc: Exception) -> str:
    """One line from a tracer's or converter's error: its summary lines (``-- No conversion rule
    found for operations: aten::histc``) when it has them, else its first informative line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    summary = [line.lstrip("- ") for line in lines if line.startswith("--")]
    useful = [line for line in lines if not line.startswith(("Check '", "FrontEnd API failed"))]
    text = "; ".join(summary) or (useful or [type(exc).__name__])[0]
    return f"{type(exc).__name__}: {text}"[:300]


# compiled models and their infer requests, per (model key, precision hint, streams), kept for the
# life of the process
_COMPILED: dict = {}


class OpenVINOComputer:
    """The runtime interface (see :mod:`._runtime`) on OpenVINO: ``__call__(uint8 (N, 3, H, W))
    -> {layer: (N, D) float32 array}``."""

    name = "openvino"

    def __init__(self, backbone: Backbone, layers: list[str], pool: str, precision: str = "auto",
                 tta: str = "none", threads: int | None = None, cache_dir: str | None = None):
        import openvino

        if precision not in HINTS:
            raise ExtractError(f"precision {precision!r} is not available with the OpenVINO runtime on the CPU; "
                               "use fp32 or bf16 (or --runtime torch)")
        self.layers = list(layers)
        self.tta = check_tta(tta)
        self.hint = HINTS[precision]
        self.precision = "bf16" if self.hint == "bf16" else "fp32"
        self.version = openvino_version()
        self.size = int(backbone.preprocessing.crop_size)
        self.threads = max(1, int(threads or torch.get_num_threads()))
        key = _ovcache.key({
            "model": {k: backbone.provenance()[k] for k in ("source", "arch", "weights_sha256", "preprocessing")},
            "layers": self.layers, "pool": pool, "tta": self.tta, "input": [1, self.size, self.size, 3],
            "openvino": self.version, "torch": torch.__version__, "graph": GRAPH_VERSION,
        })
        self.from_cache = True
        model = _ovcache.load(key, cache_dir)
        if model is None:
            self.from_cache = False
            try:
                model = convert(backbone, self.layers, pool, self.tta, self.size)
            except RuntimeUnsupported as exc:
                _ovcache.mark_unsupported(key, str(exc), cache_dir)
                raise
            # compiled from the IR it was saved as, as a cached model is: a freshly converted
            # graph can differ in the last bits from its saved form (measured: 7e-6)
            model = _ovcache.store(key, model, cache_dir)
        compiled_key = (key, self.hint, self.threads, REQUESTS_PER_STREAM)
        if compiled_key not in _COMPILED:
            # one thread per stream, ``threads`` streams: see the module docstring
            compiled = openvino.Core().compile_model(model, "CPU", {
                "INFERENCE_PRECISION_HINT": self.hint, "NUM_STREAMS": self.threads,
                "INFERENCE_NUM_THREADS": self.threads, "PERFORMANCE_HINT": "THROUGHPUT",
            })
            # plain requests, waited for in order: no completion callbacks, so no OpenVINO thread
            # ever waits for the GIL (AsyncInferQueue's callbacks deadlocked its destructor)
            requests = [compiled.create_infer_request() for _ in range(self.threads * REQUESTS_PER_STREAM)]
            _COMPILED[compiled_key] = (compiled, requests)
        self.compiled, self.requests = _COMPILED[compiled_key]
        # the precision recorded is the one OpenVINO reports it runs (a CPU without bf16 runs f32)
        self.precision = effective_precision(self.compiled, self.precision)
        self.dims = [int(o.get_partial_shape()[1].get_length()) for o in self.compiled.outputs]

    def spec(self) -> dict:
        """The runtime as recorded in (and compared against) the cache spec."""
        return {"name": self.name, "version": self.version, "precision": self.precision}

    def __call__(self, images) -> dict[str, np.ndarray]:
        nhwc = np.ascontiguousarray(_nhwc(images))
        out = [np.empty((len(nhwc), d), dtype=np.float32) for d in self.dims]
        run_in_flight(self.requests, nhwc, out)
        return dict(zip(self.layers, out))

    def close(self) -> None:
        """Lets go of the model; the compiled model and its requests stay in this process's
        registry, reused by the next computer of the same key and freed at exit (destroying
        OpenVINO objects mid-process hung or crashed a long-lived test process)."""
        self.requests = []
        self.compiled = None


def _nhwc(images) -> np.ndarray:
    """uint8 (N, 3, H, W) (a tensor, typically a channels_last view of an NHWC block, or an array)
    -> (N, H, W, 3), without a copy when the memory already is NHWC."""
    if isinstance(images, torch.Tensor):
        return images.permute(0, 2, 3, 1).numpy()
    return np.asarray(images).transpose(0, 2, 3, 1)


def run_in_flight(requests, rows: np.ndarray, out: list) -> None:
    """One row per request, the requests in turn, so ``len(requests)`` rows are in flight: output
    tensor ``j`` of row ``i`` goes to ``out[j][i]``."""
    running: list[int | None] = [None] * len(requests)  # the row each request computes

    def collect(k: int) -> None:
        if running[k] is not None:
            request = requests[k]
            request.wait()
            for j, o in enumerate(out):
                o[running[k]] = request.get_output_tensor(j).data[0]
            running[k] = None

    for i in range(len(rows)):
        k = i % len(requests)
        collect(k)
        requests[k].start_async({0: rows[i:i + 1]})
        running[k] = i
    for k in range(len(requests)):
        collect(k)
