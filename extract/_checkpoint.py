"""The featx checkpoint format: architecture, weights, preprocessing, classes and history in one
file that ``torch.load(weights_only=True)`` reads (plain containers and tensors only)."""

from __future__ import annotations

import os
import time

import torch

from featx.extract._errors import CheckpointError
from featx.extract._store import fsync_path

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
    """``torch.save`` to a temporary file, fsync, rename, fsync the folder: after a kill or a
    power cut ``path`` holds the old content or the new one, never a partial file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(os.path.dirname(os.path.abspath(path)))


def read_checkpoint(path: str) -> dict:
    """Read and check a featx checkpoint; never unpickles code."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist; check the path or run 'featx finetune' first")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"cannot read {path!r} as a featx checkpoint with weights_only=True ({first[:200]}); "
            "only files written by featx are accepted"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path!r} is not a featx checkpoint; for a plain state_dict use "
            "--model ARCH --weights FILE"
        )
    if int(ckpt.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"{path!r} is checkpoint format version {ckpt.get('version')}, newer than this featx reads "
            f"({VERSION}); upgrade featx"
        )
    for key in ("arch", "state_dict", "preprocessing"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path!r} lacks {key!r}; it is damaged, write it again")
    return ckpt
