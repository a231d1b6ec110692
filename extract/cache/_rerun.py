"""Answering the rerun of a finished extraction job without building anything (no torch import).

A finished cache records its *request key*: the arguments of the job that made it as the user gave
them (model, weights, layers, pooling, dtype, TTA, JPEG draft, runtime, precision), the device they
resolved to, the versions of the libraries that turn those arguments into a model (featx, torch,
torchvision, timm, openvino, the offline weights package) and, for a weights file or a featx
checkpoint, that file's size and modification time. The key is written only after the full path
checked the job's real spec against the cache (:func:`record_key`), so it stands for that spec.

A rerun whose key equals the recorded one, on a cache that is complete, with exactly the same row
table (the same paths, labels, groups, splits and classes, and every file's size and mtime as the
cache recorded them: the stat check :mod:`._planning` already trusts) is answered from the file
(:func:`finished_summary`). Anything else - another argument, another library version, a touched
image, a half-finished cache, a device that may be a GPU - goes through the full path, which
refuses a spec change naming the differing key exactly as before.

What it trusts: that the same arguments and the same library versions build the same model (the
hub-cached weights of torchvision and timm are not re-hashed, and a weights file whose size and
mtime are unchanged is taken as unchanged), and that a CUDA or MPS device cannot appear without its
driver: under ``--device auto`` the fast path is taken only where no NVIDIA or ROCm device node
exists (Linux) and not on Apple silicon.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata

from featx.extract.cache import _store
from featx.extract._errors import CacheError
from featx.extract.cache._lock import FileLock
from featx.extract.models._registry import OFFLINE_WEIGHTS, resolve_spec

KEY_ATTR = "request_key"
#: Distributions whose version decides what a model name and weights argument build.
LIBRARIES = ("featx", "torch", "torchvision", "timm", "openvino")
_GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")


def cpu_without_torch(device: str) -> bool:
    """True when ``device`` surely resolves to the CPU here, known without importing torch."""
    if device == "cpu":
        return True
    if device != "auto":
        return False
    if sys.platform == "darwin" and platform.machine() == "arm64":  # MPS may be available
        return False
    return not any(os.path.exists(p) for p in _GPU_NODES)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _file_stat(path: str) -> dict:
    try:
        st = os.stat(path)
    except OSError:
        return {"path": os.path.abspath(path), "missing": True}
    return {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def request_key(*, model: str, weights: str, layers, pool: str, dtype: str, tta: str, jpeg_draft: bool,
                runtime: str, precision: str, device: str) -> dict:
    """The request key of an extraction job (see the module docstring); plain JSON data."""
    spec = resolve_spec(model)
    weights = str(weights or "default")
    libraries = {d: _version(d) for d in LIBRARIES}
    if spec.name in OFFLINE_WEIGHTS:
        package = OFFLINE_WEIGHTS[spec.name][0]
        libraries[package] = _version(package)
    return {
        "model": spec.to_dict(),
        "checkpoint": _file_stat(spec.name) if spec.source == "checkpoint" else None,
        "weights": weights,
        "weights_file": _file_stat(weights) if weights not in ("default", "none") and os.path.isfile(weights) else None,
        "layers": [layers] if isinstance(layers, str) else None if layers is None else [str(x) for x in layers],
        "pooling": pool, "dtype": dtype, "tta": tta or "none", "jpeg_draft": bool(jpeg_draft),
        "runtime": runtime, "precision": precision, "device": "cpu", "libraries": libraries,
    }


def _key_text(key: dict) -> str:
    return json.dumps(key, sort_keys=True)


def finished_summary(output: str, table, key: dict):
    """``(rows, reused, failed, runtime name)`` when ``output`` is a finished cache of exactly
    ``table`` made with the request ``key``; None when the full path must decide."""
    from featx.extract.cache._planning import same_rows, source_rows

    if not os.path.isfile(output):
        return None
    with FileLock(output):
        try:
            with _store.open_cache(output) as f:
                if not bool(f.attrs.get("complete", False)) or f.attrs.get(KEY_ATTR) != _key_text(key):
                    return None
                done = f["done"][:]
                if not done.all() or not same_rows(source_rows(table), _store.read_rows(f), table.class_names):
                    return None
                failed = int(sum(1 for r in f["failure"][:] if r))
                runtime = _store.read_spec(f).get("runtime", {}).get("name", "torch")
        except (CacheError, KeyError, ValueError, OSError):
            return None  # the full path says what is wrong with the file
    return len(done), int(done.sum()), failed, runtime


def record_key(output: str, key: dict) -> None:
    """Store ``key`` in the finished cache ``output`` (called under its lock, after the full path
    checked the spec). A cache that cannot be written (read-only) just keeps its slow rerun."""
    text = _key_text(key)
    try:
        with _store.open_cache(output) as f:
            if not f.attrs.get("complete", False) or f.attrs.get(KEY_ATTR) == text:
                return
        with _store.open_cache(output, "r+") as f:
            f.attrs[KEY_ATTR] = text
    except (CacheError, OSError):
        pass
