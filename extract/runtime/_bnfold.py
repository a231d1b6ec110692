"""BatchNorm folding for inference on the torch runtime's CPU path.

Every BatchNorm that reads only the output of a convolution (found in the module's ``torch.fx``
graph) is folded into that convolution with torch's own ``fuse_conv_bn_eval``; the BatchNorm
module is replaced by what is left of it (``nn.Identity``, or timm's dropout + activation of a
``BatchNormAct2d``) under the same name, so every layer tap keeps its name and its value. A pair
is left alone when a requested tap would see another value: the convolution's output, the
BatchNorm's input or anything inside the BatchNorm; a module ``torch.fx`` cannot trace is left
unfolded.

Folding changes the arithmetic, not the function: features stay within 1e-5 of the unfolded
model relative to their scale (tests/unit/extract/test_torch_fold.py on four built-in models with
random weights; every built-in model in benchmarks/bench_runtime_fidelity.py). Measured 1.45-1.66x
faster on 2 cores (BENCHMARKS.md section 9); chunked forward passes measured slower and are not used.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


class _AfterFold(nn.Module):
    """What a timm ``BatchNormAct2d`` still does once its normalisation is folded away."""

    def __init__(self, norm_act: nn.Module):
        super().__init__()
        self.drop = norm_act.drop
        self.act = norm_act.act

    def forward(self, x):
        return self.act(self.drop(x))


def _rest(bn: nn.Module) -> nn.Module | None:
    """The module that replaces a folded BatchNorm (None: this kind cannot be folded)."""
    if type(bn) is nn.BatchNorm2d:
        return nn.Identity()
    if type(bn).__name__ == "BatchNormAct2d" and hasattr(bn, "act") and hasattr(bn, "drop"):
        return _AfterFold(bn)
    return None


def _foldable_conv(conv) -> bool:
    """A plain convolution, or timm's TF-"same" one (padding computed per input, then the same
    ``conv2d`` of ``weight`` and ``bias``)."""
    return type(conv) is nn.Conv2d or (isinstance(conv, nn.Conv2d) and type(conv).__name__ == "Conv2dSame")


class _Tracer(torch.fx.Tracer):
    """Convolutions and BatchNorms stay single nodes (timm's TF-"same" padding has Python control
    flow inside)."""


    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, (nn.BatchNorm2d, nn.Conv2d)) or super().is_leaf_module(m, qualname)


def conv_bn_pairs(module: nn.Module) -> list[tuple[str, str]]:
    """``(conv name, batchnorm name)`` of every BatchNorm fed only by a convolution whose output
    nothing else reads ([] when ``torch.fx`` cannot trace ``module``)."""
    if not any(isinstance(m, nn.BatchNorm2d) for m in module.modules()):
        return []  # ConvNeXt, ViT, ...: nothing to trace for
    try:
        graph = _Tracer().trace(module)
    except Exception:  # data-dependent control flow and the like: no folding
        return []
    modules = dict(module.named_modules())
    pairs = []
    for node in graph.nodes:
        bn = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(bn, nn.BatchNorm2d) or bn.running_mean is None or not bn.track_running_stats:
            continue
        src = node.args[0] if node.args else None
        if (isinstance(src, torch.fx.Node) and src.op == "call_module" and len(src.users) == 1
                and _foldable_conv(modules.get(src.target))):
            pairs.append((src.target, node.target))
    return pairs


def _set(root: nn.Module, name: str, value: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, value)


def fold_batchnorms(module: nn.Module, taps: list[str]) -> tuple[nn.Module, int]:
    """An eval-mode copy of ``module`` with its conv + BatchNorm pairs folded (``taps``: the
    layer names that must keep their values); returns the copy and how many pairs were folded.
    ``module`` itself is not changed."""
    outputs = [t for t in taps if not t.endswith(":in")]
    inputs = [t[:-3] for t in taps if t.endswith(":in")]
    pairs = [(c, b) for c, b in conv_bn_pairs(module)
             if c not in outputs and b not in inputs and not any(t.startswith(b + ".") for t in outputs + inputs)
             and _rest(module.get_submodule(b)) is not None]
    if not pairs:
        return module, 0
    folded = copy.deepcopy(module).eval()
    for conv_name, bn_name in pairs:
        conv, bn = folded.get_submodule(conv_name), folded.get_submodule(bn_name)
        _set(folded, conv_name, fuse_conv_bn_eval(conv, bn))
        _set(folded, bn_name, _rest(bn))
    return folded, len(pairs)
