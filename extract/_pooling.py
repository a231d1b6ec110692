"""Pooling of layer activations on the device: spatial maps become one vector per image."""

from __future__ import annotations

import torch

from featx.extract._options import POOL, POOLS  # noqa: F401 (re-exported)

LARGE_FLAT_DIM = 65536  # --pool none on a map bigger than this gets a warning


def pool(x: torch.Tensor, how: str) -> torch.Tensor:
    """(N, C, H, W) maps or (N, T, D) token sequences -> (N, D) float32; (N, D) passes through.

    'avg'/'max' reduce the spatial (or token) axes, 'avgmax' concatenates both, 'none' flattens.
    """
    x = x.float()
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
    raise ValueError(f"pool must be one of {', '.join(POOLS)}; got {how!r}")


def pooled_dim(shape: tuple[int, ...], how: str) -> int:
    """Feature length after :func:`pool` for a per-image output ``shape`` (without batch)."""
    if len(shape) == 1:
        return int(shape[0])
    if how == "none":
        n = 1
        for s in shape:
            n *= int(s)
        return n
    channels = int(shape[0]) if len(shape) == 3 else int(shape[-1]) if len(shape) == 2 else int(shape[0])
    return 2 * channels if how == "avgmax" else channels
