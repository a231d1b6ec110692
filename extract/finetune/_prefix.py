"""The frozen prefix of a fine-tune: the part of the forward pass that runs before the first
trainable layer, cut out of the module so that it can run without autograd (on OpenVINO, or
once for a cache) and only the trainable suffix runs in torch.

:func:`plan_split` finds the cut by running the module once with hooks (in the mode training
uses: frozen groups in eval mode): the prefix is every module that finishes before the first
trainable leaf module starts (or before a keyless dropout-like module that would be in training
mode). Its *boundary* is the last of them to finish; its output is the prefix's output.

:meth:`Split.suffix` runs the module with the prefix's top-level units bypassed: the first one
returns the given boundary tensor, the others pass their input through. The bypass overrides
the units' ``forward`` for the length of one call, so ``state_dict`` and the module are never
changed. A split is only used after :meth:`Split.verify` found ``suffix(prefix(x))`` equal to
``module(x)`` in eval mode; a model whose forward does more between its units than calling them
(positional embeddings added in ``forward``, a unit called twice) fails that check and falls
back to the whole-module forward.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

import torch
from torch import nn

from featx.extract.finetune._groups import _tensor_keys

VERIFY_ATOL = 1e-5


class _Stop(Exception):
    """Raised by a hook to end a forward pass early."""


def _stochastic(m: nn.Module) -> bool:
    return "drop" in type(m).__name__.lower()


@dataclass(frozen=True)
class Split:
    """Where the frozen prefix ends: ``units`` (top-level module paths of the prefix, in call
    order; the first is fed the boundary tensor), ``boundary`` (the module whose output the prefix
    returns) and ``shape`` (that output's shape for one image)."""

    units: tuple[str, ...]
    boundary: str
    shape: tuple[int, ...]
    keys: tuple[str, ...]  # the prefix's parameters and buffers

    def describe(self) -> str:
        return self.units[0] if len(self.units) == 1 else f"{self.units[0]}..{self.units[-1]}"

    def digest(self, module: nn.Module) -> str:
        """A digest of the prefix's weights and buffers (what a compiled prefix depends on)."""
        h = hashlib.sha256()
        state = module.state_dict()
        for k in self.keys:
            t = state[k].detach().to("cpu").contiguous()
            h.update(k.encode())
            h.update(str(t.dtype).encode())
            h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        return h.hexdigest()[:32]

    @torch.no_grad()
    def prefix(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The boundary tensor of normalised images ``x``, by eager torch without autograd (the
        modules keep the modes they are in: frozen ones are in eval mode while training)."""
        captured = []

        def hook(_m, _inp, out):
            captured.append(out)
            raise _Stop

        handle = module.get_submodule(self.boundary).register_forward_hook(hook)
        try:
            module(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        return captured[0]

    def suffix(self, module: nn.Module, boundary: torch.Tensor) -> torch.Tensor:
        """The module's output for prefix output ``boundary``: only the layers after the prefix run."""
        with self.bypassed(module, boundary):
            return module(boundary)

    @contextlib.contextmanager
    def bypassed(self, module: nn.Module, boundary: torch.Tensor):
        units = [module.get_submodule(u) for u in self.units]

        def feed(*_args, **_kwargs):
            return boundary

        def through(x, *_args, **_kwargs):
            return x

        units[0].forward = feed
        for u in units[1:]:
            u.forward = through
        try:
            yield
        finally:
            for u in units:
                del u.forward

    @torch.no_grad()
    def verify(self, module: nn.Module, size: int, seed: int = 0) -> float:
        """The largest difference between ``suffix(prefix(x))`` and ``module(x)`` in eval mode, on
        seeded random inputs of 2 images (the module's modes are restored)."""
        modes = {m: m.training for m in module.modules()}
        try:
            module.eval()
            g = torch.Generator().manual_seed(seed)
            dev = next(module.parameters()).device
            x = torch.randn(2, 3, size, size, generator=g).to(dev)
            full = module(x)
            split = self.suffix(module, self.prefix(module, x))
            if not isinstance(full, torch.Tensor) or not isinstance(split, torch.Tensor) or full.shape != split.shape:
                return float("inf")
            return float((full - split).abs().max())
        finally:
            for m, mode in modes.items():
                m.train(mode)


@torch.no_grad()
def plan_split(module: nn.Module, frozen: set[str], size: int) -> Split | None:
    """The split of ``module`` (in the modes training uses, set by the caller) at the first leaf
    module with a trainable tensor; None when nothing runs before it (or the boundary's output is
    not one tensor). ``frozen`` holds the state_dict keys of the frozen groups."""
    if not frozen:
        return None
    names = dict(module.named_modules())
    trainable = {n: any(k not in frozen for k in _tensor_keys(m, n)) for n, m in names.items() if n}
    leaves = {n for n, m in names.items() if n and not any(True for _ in m.children())}
    events: list[tuple[str, str]] = []
    outputs: dict[str, object] = {}
    handles = []

    def pre(name):
        def hook(m, _inp):
            if name in leaves and (trainable[name] or (m.training and _stochastic(m))):
                raise _Stop
            events.append(("pre", name))
        return hook

    def post(name):
        def hook(_m, _inp, out):
            events.append(("post", name))
            outputs[name] = out
        return hook

    for n, m in names.items():
        if n:
            handles.append(m.register_forward_pre_hook(pre(n)))
            handles.append(m.register_forward_hook(post(n)))
    dev = next(module.parameters()).device
    try:
        module(torch.zeros(2, 3, size, size, device=dev))
    except _Stop:
        pass
    else:
        return None  # no trainable leaf ran: nothing to split off
    finally:
        for h in handles:
            h.remove()
    done = [n for kind, n in events if kind == "post"]
    if not done:
        return None
    done_set = set(done)
    units = [n for kind, n in events if kind == "pre" and n in done_set and n.rpartition(".")[0] not in done_set]
    units = list(dict.fromkeys(units))
    boundary = done[-1]
    out = outputs[boundary]
    if boundary not in units or not isinstance(out, torch.Tensor) or trainable.get(boundary):
        return None
    keys = tuple(k for u in units for k in _tensor_keys(names[u], u))
    if any(k not in frozen for k in keys):
        return None
    return Split(tuple(units), boundary, tuple(out.shape[1:]), keys)
