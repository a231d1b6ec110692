"""Tapping layers: forward hooks capture several layers in one pass, pooled on the device.

A layer is named by its module path (``blocks.3``, ``layer4``, ``global_pool``); ``NAME:in``
taps the input of a module instead of its output. ``penultimate`` is an alias resolved to the
pooled features that feed the classifier; under a token pooling (``cls``, ``mean``, ``cls+mean``)
it is a vision transformer's last token sequence (timm ``norm``, torchvision ``encoder.ln``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from featx.extract._errors import UnknownLayerError
from featx.common.messages import suggest
from featx.extract.models._pooling import TOKEN_POOLS, PoolingError, check_token_pool, pool, prefix_tokens

PENULTIMATE = "penultimate"
_SKIP_AS_PENULTIMATE = (nn.Dropout, nn.Identity, nn.Flatten)


@dataclass(frozen=True)
class LayerInfo:
    """One tappable layer: module path, module type and per-image output shape."""

    name: str
    kind: str
    shape: tuple[int, ...]


class _Done(Exception):
    """Raised by the last hook to skip the rest of the forward pass."""


def classifier_name(module: nn.Module) -> str | None:
    """Module path of the final classifier (timm's ``get_classifier`` or the last Linear)."""
    names = {id(m): n for n, m in module.named_modules()}
    if hasattr(module, "get_classifier"):
        clf = module.get_classifier()
        if isinstance(clf, nn.Module) and id(clf) in names and names[id(clf)]:
            return names[id(clf)]
    last = None
    for name, m in module.named_modules():
        if isinstance(m, nn.Linear):
            last = name
    return last


def trace_layers(module: nn.Module, example: torch.Tensor) -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    """Run ``example`` once and return (name, module, output shape) in the order modules finish."""
    order: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    handles = []

    def make(name, m):
        def hook(_m, _inp, out):
            if isinstance(out, torch.Tensor):
                order.append((name, m, tuple(out.shape[1:])))

        return hook

    for name, m in module.named_modules():
        if name:
            handles.append(m.register_forward_hook(make(name, m)))
    try:
        with torch.inference_mode():
            module(example)
    finally:
        for h in handles:
            h.remove()
    return order


def list_layers(module: nn.Module, example: torch.Tensor) -> list[LayerInfo]:
    """Every module with a tensor output, in module order, with per-image output shapes."""
    traced = {name: (m, shape) for name, m, shape in trace_layers(module, example)}
    out = []
    for name, _m in module.named_modules():
        if name in traced:
            m, shape = traced[name]
            out.append(LayerInfo(name, type(m).__name__, shape))
    return out


def penultimate_layer(module: nn.Module, example: torch.Tensor, pool: str = "avg") -> str:
    """The layer whose output is the pooled vector fed to the classifier (or ``CLASSIFIER:in``);
    for a token ``pool``, the last token sequence (T, D) of the classifier's width D before it."""
    clf = classifier_name(module)
    if clf is None:
        raise UnknownLayerError("the model has no Linear classifier, so 'penultimate' is undefined; name a layer (see 'featx layers MODEL')")
    in_features = getattr(dict(module.named_modules())[clf], "in_features", None)
    order = trace_layers(module, example)
    pos = next((i for i, (n, _m, _s) in enumerate(order) if n == clf), None)
    if pool in TOKEN_POOLS and pos is not None:
        for i in range(pos - 1, -1, -1):
            name, _m, shape = order[i]
            if len(shape) == 2 and shape[-1] == in_features:
                # a container finishes after its last child (torchvision 'encoder' after 'encoder.ln'): the child
                while i > 0 and order[i - 1][0].startswith(order[i][0] + ".") and order[i - 1][2] == shape:
                    i -= 1
                return order[i][0]
        raise PoolingError(f"pool {pool!r}: the model has no token sequence before its classifier {clf!r}; "
                           "name a token layer (see 'featx layers MODEL') or use pool avg")
    if pool not in TOKEN_POOLS and prefix_tokens(module) is not None:
        raise PoolingError(f"pool {pool!r} does not apply to a vision transformer (its classifier reads the class "
                           "token, so the result would be the class token); use pool mean (the mean of the patch "
                           "tokens), cls (the class token) or cls+mean")
    found = None
    if pos is not None and in_features:
        for i in range(pos - 1, -1, -1):
            name, m, shape = order[i]
            if clf.startswith(name + ".") or isinstance(m, _SKIP_AS_PENULTIMATE):
                continue
            numel = 1
            for s in shape:
                numel *= s
            if numel == in_features and (len(shape) == 1 or all(s == 1 for s in shape[1:])):
                found = (name, i)
            break
    if found is None:
        return f"{clf}:in"
    if pool in _MAP_POOLS:
        # the pooled vector is already the network's own average: max, avgmax and none pool the
        # spatial map it was averaged from (the last (C, H, W) map of the classifier's width C)
        return _map_before(order, found, in_features, pool)
    return found[0]


_MAP_POOLS = ("max", "avgmax", "none")


def _map_before(order, found, channels: int, how: str) -> str:
    pooled, i = found
    first = None  # at a tiny input every map is 1 x 1: the last one (max then equals avg, as it should)
    for name, _m, shape in reversed(order[:i]):
        if name.startswith(pooled + "."):
            continue
        if len(shape) == 3 and shape[0] == channels:
            if shape[1] * shape[2] > 1:
                return name
            first = first or name
    if first is not None:
        return first
    raise PoolingError(f"pool {how!r}: the model has no spatial map before its pooled features {pooled!r}; "
                       "name a map layer (see 'featx layers MODEL') or use pool avg")


def check_layers(module: nn.Module, layers: list[str]) -> None:
    names = [n for n, _ in module.named_modules() if n]
    known = set(names)
    for layer in layers:
        base = layer[:-3] if layer.endswith(":in") else layer
        if base not in known:
            raise UnknownLayerError(
                f"layer {layer!r} is not present in the model{suggest(base, names)}; list the layers "
                "with 'featx layers MODEL'"
            )


class LayerTap:
    """Capture and pool ``layers`` of ``module`` in one forward pass.

    Calling the tap returns ``{layer: (N, D) float32 tensor}``; the forward pass stops as soon as
    every requested layer has been seen. Outside a call the hooks do nothing, so a tap left
    attached never disturbs a plain forward of the module (``close`` removes them).
    """

    def __init__(self, module: nn.Module, layers: list[str], pooling: str):
        check_layers(module, layers)
        self._active = False
        self.module = module
        self.layers = list(layers)
        self.pooling = pooling
        self.prefix = check_token_pool(module, pooling)[0] if pooling in TOKEN_POOLS else 0
        self.vit = prefix_tokens(module) is not None
        self._captured: dict[str, torch.Tensor] = {}
        self._handles = []
        modules = dict(module.named_modules())
        for layer in self.layers:
            if layer.endswith(":in"):
                h = modules[layer[:-3]].register_forward_pre_hook(self._pre_hook(layer))
            else:
                h = modules[layer].register_forward_hook(self._hook(layer))
            self._handles.append(h)

    def _store(self, layer, value):
        if self._active and layer not in self._captured and isinstance(value, torch.Tensor):
            if self.pooling not in TOKEN_POOLS and self.vit and value.dim() == 3:
                raise PoolingError(
                    f"pool {self.pooling!r} does not apply to a vision transformer's tokens (layer {layer!r}); "
                    "use pool mean (the mean of the patch tokens), cls (the class token) or cls+mean")
            if self.pooling in TOKEN_POOLS and value.dim() != 3:
                raise PoolingError(
                    f"pool {self.pooling!r} pools token sequences (N, tokens, dim), and layer {layer!r} outputs "
                    f"{tuple(value.shape[1:])} per image; tap a token layer (a block, the final norm: see "
                    "'featx layers MODEL') or use pool avg, max, avgmax or none for this layer")
            self._captured[layer] = pool(value, self.pooling, self.prefix)
            if len(self._captured) == len(self.layers):
                raise _Done

    def _hook(self, layer):
        def hook(_m, _inp, out):
            self._store(layer, out)

        return hook

    def _pre_hook(self, layer):
        def hook(_m, inp):
            self._store(layer, inp[0] if isinstance(inp, tuple) else inp)

        return hook

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self._captured = {}
        self._active = True
        try:
            self.module(x)
        except _Done:
            pass
        finally:
            self._active = False
        missing = [layer for layer in self.layers if layer not in self._captured]
        if missing:
            raise UnknownLayerError(f"layer(s) {missing} produced no tensor output; choose another layer ('featx layers MODEL')")
        out, self._captured = self._captured, {}
        return out

    def close(self):
        for h in self._handles:
            h.remove()
        self._handles = []
