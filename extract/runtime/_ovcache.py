"""The on-disk cache of converted OpenVINO models, keyed by everything that shapes them.

A user cache folder (``$FEATX_CACHE_DIR/openvino``, else ``$XDG_CACHE_HOME/featx/openvino``,
else ``~/.cache/featx/openvino``) holds ``KEY.xml`` + ``KEY.bin`` (OpenVINO IR) per converted
model, and ``KEY.unsupported`` (the reason) for a model the converter refused, so ``auto`` falls
back at once next time. Every file is written atomically, the ``.xml`` last: a model is there
whole or not at all. A damaged entry is converted again.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from featx.common import atomic_write
from featx.common.jsonable import json_digest


def cache_dir(folder: str | None = None) -> str:
    """The folder holding converted models (``folder`` when given)."""
    if folder:
        return os.fspath(folder)
    if os.environ.get("FEATX_CACHE_DIR"):
        return os.path.join(os.environ["FEATX_CACHE_DIR"], "openvino")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "featx", "openvino")


def key(parts: dict) -> str:
    """A short stable digest of ``parts`` (plain JSON data)."""
    return json_digest(parts, default=str)[:32]


def _path(key_: str, suffix: str, folder: str | None) -> str:
    return os.path.join(cache_dir(folder), key_ + suffix)


def load(key_: str, folder: str | None = None):
    """The cached model of ``key_``, or None when not cached (or unreadable). Raises
    :class:`featx.extract.RuntimeUnsupported` when the model was refused before."""
    bad = _path(key_, ".unsupported", folder)
    if os.path.exists(bad):
        from featx.extract._errors import RuntimeUnsupported

        with open(bad, encoding="utf-8") as fh:
            raise RuntimeUnsupported(fh.read().strip() + " (remembered)")
    xml, weights = _path(key_, ".xml", folder), _path(key_, ".bin", folder)
    if not (os.path.exists(xml) and os.path.exists(weights)):
        return None
    import openvino

    try:
        return openvino.Core().read_model(xml, weights)
    except RuntimeError:
        return None


def store(key_: str, model, folder: str | None = None):
    """Store ``model`` under ``key_`` and return it as read back from its IR (from a temporary
    folder when the cache folder is not writable)."""
    import openvino

    target = cache_dir(folder)
    try:
        os.makedirs(target, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target, prefix=".convert-") as tmp:
            openvino.save_model(model, os.path.join(tmp, "m.xml"), compress_to_fp16=False)
            for suffix in (".bin", ".xml"):  # the .xml last: it marks the entry complete
                _copy(os.path.join(tmp, "m" + suffix), _path(key_, suffix, folder))
    except OSError:
        with tempfile.TemporaryDirectory(prefix="featx-openvino-") as tmp:
            xml = os.path.join(tmp, "m.xml")
            openvino.save_model(model, xml, compress_to_fp16=False)
            return openvino.Core().read_model(xml)
    return load(key_, folder)


def mark_unsupported(key_: str, reason: str, folder: str | None = None) -> None:
    """Remember that the converter refused ``key_`` (best effort)."""
    with contextlib.suppress(OSError):
        os.makedirs(cache_dir(folder), exist_ok=True)
        with atomic_write(_path(key_, ".unsupported", folder)) as fh:
            fh.write(reason + "\n")


def _copy(src: str, dst: str) -> None:
    with open(src, "rb") as fin, atomic_write(dst, "wb") as fout:
        while chunk := fin.read(1 << 22):
            fout.write(chunk)
