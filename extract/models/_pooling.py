"""Pooling of layer activations on the device: spatial maps become one vector per image.

Vision transformers' token sequences (N, T, D) have their own choices (``TOKEN_POOLS``): ``cls``
(the class token, token 0), ``mean`` (the mean of the patch tokens, after the model's prefix
tokens: class, distillation or register tokens) and ``cls+mean`` (both, concatenated in that
order). :func:`prefix_tokens` reads how many prefix tokens a timm or torchvision ViT has.
"""

from __future__ import annotations

import torch
from torch import nn

from featx.extract._errors import ExtractError
from featx.extract._options import POOL, POOLS, TOKEN_POOLS  # noqa: F401 (re-exported)

LARGE_FLAT_DIM = 65536  # --pool none on a map bigger than this gets a warning
SPATIAL_POOLS = tuple(p for p in POOLS if p not in TOKEN_POOLS)


class PoolingError(ExtractError, ValueError):
    """A pooling choice that does not apply to a model or a layer."""


def prefix_tokens(module: nn.Module) -> tuple[int, bool] | None:
    """(number of prefix tokens, whether token 0 is a class token) of a vision transformer:
    timm's ``num_prefix_tokens`` / ``cls_token``, torchvision's ``class_token``; None for a
    model without token sequences."""
    n = getattr(module, "num_prefix_tokens", None)
    if isinstance(n, int) and not isinstance(n, bool):
        return n, getattr(module, "cls_token", None) is not None
    if isinstance(getattr(module, "class_token", None), nn.Parameter):  # torchvision VisionTransformer
        return 1, True
    return None


def check_token_pool(module: nn.Module, how: str, model: str = "the model") -> tuple[int, bool]:
    """The prefix tokens of ``module`` for token pooling ``how``, or a :class:`PoolingError`."""
    found = prefix_tokens(module)
    others = ", ".join(SPATIAL_POOLS)
    if found is None:
        raise PoolingError(f"pool {how!r} pools a vision transformer's tokens, and {model} is not a timm or "
                           f"torchvision ViT (no class or prefix tokens); use pool {others}")
    if how in ("cls", "cls+mean") and not found[1]:
        raise PoolingError(f"pool {how!r} needs a class token, and {model} has none; use pool mean (its patch tokens)")
    return found


def pool(x: torch.Tensor, how: str, prefix: int = 1) -> torch.Tensor:
    """(N, C, H, W) maps or (N, T, D) token sequences -> (N, D) float32; (N, D) passes through.

    'avg'/'max' reduce the spatial (or token) axes, 'avgmax' concatenates both, 'none' flattens;
    'cls', 'mean' and 'cls+mean' take token 0, the mean of the tokens after the ``prefix`` first,
    or both (see the module docstring), from (N, T, D) sequences only.
    """
    x = x.float()
    if how in TOKEN_POOLS:
        if x.dim() != 3:
            raise PoolingError(f"pool {how!r} needs a token sequence (N, tokens, dim), got {tuple(x.shape)}")
        if how == "cls":
            return x[:, 0]
        mean = x[:, prefix:].mean(dim=1)
        return mean if how == "mean" else torch.cat([x[:, 0], mean], dim=1)
    if x.dim() == 2:
        return x
    if how == "none":
        return x.flatten(1)
    axes = tuple(range(2, x.dim())) if x.dim() == 4 else (1,)
    if x.dim() not in (3, 4):
        axes = tuple(range(2, x.dim()))
    if how == "avg":
        return x.mean(dim=axes)
    if how == "max":
        return x.amax(dim=axes)
    if how == "avgmax":
        return torch.cat([x.mean(dim=axes), x.amax(dim=axes)], dim=1)
    raise PoolingError(f"pool must be one of {', '.join(POOLS)}; got {how!r}")

