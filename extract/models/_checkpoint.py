"""The featx checkpoint format: architecture, weights, preprocessing, classes and history in one
file that ``torch.load(weights_only=True)`` reads (plain containers and tensors only)."""

from __future__ import annotations

import os
import time

import torch

from featx.common import atomic_write
from featx.extract._errors import CheckpointError
from featx.extract.models._weights import is_state_dict, load_plain

FORMAT = "featx.checkpoint"
VERSION = 1


def save_checkpoint(
    path: str,
    module: torch.nn.Module,
    *,
    arch: dict,
    preprocessing: dict,
    classes: list[str] | None = None,
    history: list[dict] | None = None,
    extra: dict | None = None,
) -> None:
    """Write a checkpoint atomically (temporary file + rename).

    ``arch`` is ``{"source": "timm"|"torchvision", "arch": NAME, "num_classes": K}``.
    """
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "arch": dict(arch),
        "state_dict": {k: v.detach().to("cpu") for k, v in module.state_dict().items()},
        "preprocessing": dict(preprocessing),
        "classes": list(classes or []),
        "history": list(history or []),
        "extra": dict(extra or {}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    save_atomic(payload, path)


def save_atomic(payload, path: str) -> None:
    """``torch.save`` atomically (:func:`featx.common.atomic_write`): after a kill or a power cut
    ``path`` holds the old content or the new one, never a partial file."""
    with atomic_write(path, "wb") as fh:
        torch.save(payload, fh)


def read_checkpoint(path: str) -> dict:
    """Read and check a featx checkpoint; never unpickles code."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist; check the path or run 'featx finetune' first")
    ckpt = load_plain(path, CheckpointError)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        if is_state_dict(ckpt):
            raise CheckpointError(f"{path!r} is not a featx checkpoint; for a plain state_dict use "
                                  "--model ARCH --weights FILE")
        raise CheckpointError(f"{path!r} is not a featx checkpoint or state_dict and was not loaded "
                              "(it has no featx 'format' key); pass a file written by 'featx finetune'")
    if int(ckpt.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"{path!r} is checkpoint format version {ckpt.get('version')}, newer than this featx reads "
            f"({VERSION}); upgrade featx"
        )
    for key in ("arch", "state_dict", "preprocessing"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path!r} lacks {key!r}; it is damaged, write it again")
    return ckpt
