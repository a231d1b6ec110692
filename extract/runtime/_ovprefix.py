"""A compiled OpenVINO model of a module's first layers: normalised float images (N, 3, S, S) ->
the output of one inner module (a fine-tune's frozen prefix, see
:mod:`featx.extract.finetune._prefix`).

The module is traced in eval mode up to that inner module (a hook ends the forward there, so
the traced graph is the prefix alone) and converted with ``openvino.convert_model``; converted
models are kept in extraction's on-disk cache (:mod:`._ovcache`) under a key naming the
caller's digest of the prefix's weights. As in :mod:`._openvino`, every image is its own
inference request (batch 1, one thread per stream, several streams), so an image's output never
depends on its batch, and the precision hint is always f32.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from featx.extract._errors import RuntimeUnsupported
from featx.extract.runtime import _ovcache
from featx.extract.runtime._openvino import REQUESTS_PER_STREAM, _reason, openvino_version, run_in_flight

GRAPH_VERSION = 1
_COMPILED: dict = {}  # kept for the life of the process (see OpenVINOComputer.close)


class _Stop(Exception):
    pass


class PrefixGraph(nn.Module):
    """``module``'s forward up to the output of its sub-module ``boundary``, as one module to trace."""

    def __init__(self, module: nn.Module, boundary: str):
        super().__init__()
        self.module = module
        self.boundary = boundary

    def forward(self, x):
        captured = []

        def hook(_m, _inp, out):
            captured.append(out)
            raise _Stop

        handle = self.module.get_submodule(self.boundary).register_forward_hook(hook)
        try:
            self.module(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        return captured[0]


def convert(module: nn.Module, boundary: str, size: int):
    """The OpenVINO model of ``module`` up to ``boundary`` for 1 x 3 x ``size`` x ``size`` inputs
    (traced in eval mode; the modules' modes are restored). Failures are :class:`RuntimeUnsupported`."""
    import openvino

    modes = {m: m.training for m in module.modules()}
    example = torch.zeros(1, 3, size, size)
    try:
        module.eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(PrefixGraph(module, boundary), example, check_trace=False, strict=False)
        model = openvino.convert_model(traced, example_input=example)
    except Exception as exc:
        raise RuntimeUnsupported(_reason(exc)) from None
    finally:
        for m, mode in modes.items():
            m.train(mode)
    model.reshape([1, 3, size, size])
    return model


class OpenVINOPrefix:
    """``__call__(float (N, 3, S, S) tensor) -> (N, ...) float32 tensor``: the prefix's output,
    one inference request per image. ``key_parts`` (plain JSON data naming the model, the prefix
    and a digest of its weights) keys the on-disk cache; ``from_cache`` says whether it was hit."""

    name = "openvino"

    def __init__(self, module: nn.Module, boundary: str, size: int, key_parts: dict, threads: int | None = None,
                 cache_dir: str | None = None):
        import openvino

        self.size = int(size)
        self.threads = max(1, int(threads or torch.get_num_threads()))
        key = _ovcache.key({**key_parts, "boundary": boundary, "input": [1, 3, self.size, self.size],
                            "openvino": openvino_version(), "torch": torch.__version__, "graph": GRAPH_VERSION,
                            "kind": "prefix"})
        model = _ovcache.load(key, cache_dir)
        self.from_cache = model is not None
        if model is None:
            try:
                model = convert(module, boundary, self.size)
            except RuntimeUnsupported as exc:
                _ovcache.mark_unsupported(key, str(exc), cache_dir)
                raise
            model = _ovcache.store(key, model, cache_dir)
        ckey = (key, self.threads)
        if ckey not in _COMPILED:
            compiled = openvino.Core().compile_model(model, "CPU", {
                "INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": self.threads,
                "INFERENCE_NUM_THREADS": self.threads, "PERFORMANCE_HINT": "THROUGHPUT",
            })
            requests = [compiled.create_infer_request() for _ in range(self.threads * REQUESTS_PER_STREAM)]
            _COMPILED[ckey] = (compiled, requests)
        self.compiled, self.requests = _COMPILED[ckey]
        self.out_shape = tuple(int(d.get_length()) for d in self.compiled.outputs[0].get_partial_shape())[1:]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        arr = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        out = np.empty((len(arr), *self.out_shape), dtype=np.float32)
        run_in_flight(self.requests, arr, [out])
        return torch.from_numpy(out)
