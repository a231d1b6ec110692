"""The joined cache: one file ``OUT.h5`` whose datasets are HDF5 virtual datasets over the shard
caches in ``OUT.h5.shards/`` (h5py's ``VirtualLayout``/``VirtualSource``), with the datasets and
root attributes of a cache written by one process, so every reader reads it unchanged.

A virtual dataset whose source file is missing reads silently as fill values. So the joined file
records, per shard, its file (relative to the joined file: the two move together), rows, size in
bytes and a checksum (of its creation time, spec, per-row image hashes and done mask), and
:func:`check_shards` verifies every one before a read is trusted: a missing or changed shard is
refused with one line naming it. :func:`consolidate` copies a joined cache into one ordinary file.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import h5py
import numpy as np

from featx.common import fsync_path
from featx.common.files import tmp_path
from featx.extract._errors import CacheDamagedError
from featx.extract.cache._store import _chunk_rows, _early, open_cache
from featx.common.messages import first_line

SHARDS_ATTR = "joined_shards"  # root attribute of a joined cache: JSON list of its shards
ROW_TABLE = ("paths", "labels", "groups", "splits", "sizes", "mtimes", "sha256", "failure", "done")
COPIED_ATTRS = ("format", "format_version", "featx_version", "spec", "class_names", "library_versions", "layer_dims")


def dataset_names(f: h5py.File) -> list[str]:
    """The datasets of a cache: its row table, then ``features/<layer>`` per layer."""
    return list(ROW_TABLE) + [f"features/{layer}" for layer in f["features"].keys()]


def shard_checksum(f: h5py.File) -> str:
    """sha256 of a shard's creation time, spec, image hashes and done mask (cheap: 65 bytes a row)."""
    h = hashlib.sha256()
    for key in ("created", "spec"):
        h.update(str(f.attrs.get(key, "")).encode())
    h.update(np.ascontiguousarray(f["sha256"][:]).tobytes())
    h.update(np.ascontiguousarray(f["done"][:]).tobytes())
    return h.hexdigest()


def file_sha256(path: str, block: int = 1 << 20) -> str:
    """sha256 of a file's bytes (features included): what finds a shard corrupted behind featx's back."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


def shard_record(path: str, base: str) -> dict:
    """What the joined file at folder ``base`` records of the shard at ``path``: ``checksum`` (cheap,
    checked at every read) and ``bytes`` (the whole file's sha256, checked by a rerun's driver)."""
    with open_cache(path) as f:
        record = {"file": os.path.relpath(path, base), "rows": int(f["done"].shape[0]), "size": os.path.getsize(path),
                  "checksum": shard_checksum(f), "complete": bool(f.attrs.get("complete", False))}
    record["bytes"] = file_sha256(path)
    return record


def recorded_shards(path: str) -> list[dict] | None:
    """The shards recorded in the joined cache at ``path``; None for an ordinary cache or no file."""
    if not os.path.exists(path):
        return None
    try:
        with h5py.File(path, "r", locking=False) as f:
            raw = f.attrs.get(SHARDS_ATTR)
    except OSError:
        return None
    return json.loads(raw) if raw is not None else None


def join(output: str, shard_paths: list[str], source: dict, records: list[dict] | None = None) -> list[dict]:
    """Write ``output`` joining ``shard_paths`` (in row order) through virtual datasets; root
    attributes as one process writes them, with ``source`` (the whole table's description).
    Written under a temporary name and renamed into place. Returns the shard records."""
    base = os.path.dirname(os.path.abspath(output))
    records = records or [shard_record(p, base) for p in shard_paths]
    with open_cache(shard_paths[0]) as first:
        names = dataset_names(first)
        meta = {name: (first[name].shape[1:], first[name].dtype) for name in names}
        attrs = {k: first.attrs[k] for k in COPIED_ATTRS if k in first.attrs}
    n = sum(r["rows"] for r in records)
    layouts = {name: h5py.VirtualLayout(shape=(n, *tail), dtype=dtype) for name, (tail, dtype) in meta.items()}
    start = 0
    for path, rec in zip(shard_paths, records):
        rows = rec["rows"]
        for name, (tail, dtype) in meta.items():
            layouts[name][start:start + rows] = h5py.VirtualSource(rec["file"], name, shape=(rows, *tail), dtype=dtype)
        start += rows
    tmp = tmp_path(output)
    try:
        with h5py.File(tmp, "w", locking=False) as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            f.attrs["source"] = json.dumps(source, sort_keys=True)
            f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            f.attrs["complete"] = all(r["complete"] for r in records)
            f.attrs[SHARDS_ATTR] = json.dumps(records)
            f.create_group("features")
            for name, layout in layouts.items():
                f.create_virtual_dataset(name, layout, fillvalue=None)
        fsync_path(tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fsync_path(base)
    return records


def check_shards(path: str, f: h5py.File) -> None:
    """Refuse (one line naming the shard) a joined cache whose shard is missing or changed since
    it was joined; an ordinary cache passes untouched."""
    raw = f.attrs.get(SHARDS_ATTR)
    if raw is None:
        return
    base = os.path.dirname(os.path.abspath(path))
    for rec in json.loads(raw):
        shard = os.path.join(base, rec["file"])
        fix = (f"rerun the same 'featx extract' command (with or without --cluster) to recompute that shard and "
               f"rejoin {path!r}")
        if not os.path.exists(shard):
            raise CacheDamagedError(f"cache {path!r} joins shard {shard!r}, which is missing; {fix}")
        problem = _changed(shard, rec)
        if problem:
            raise CacheDamagedError(f"cache {path!r} joins shard {shard!r}, which {problem} since it was joined; {fix}")


def _changed(shard: str, rec: dict) -> str:
    if os.path.getsize(shard) != rec["size"]:
        return f"changed size ({os.path.getsize(shard)} bytes, {rec['size']} recorded)"
    try:
        with h5py.File(shard, "r", locking=False) as g:
            if int(g["done"].shape[0]) != rec["rows"] or shard_checksum(g) != rec["checksum"]:
                return "changed content (checksum differs)"
    except (OSError, KeyError) as exc:
        return f"cannot be read ({first_line(exc)})"
    return ""


def consolidate(path: str, output: str | None = None, block: int = 65536) -> str:
    """Copy the joined cache ``path`` into one ordinary cache file ``output`` (default: replace
    ``path`` itself); the shards are left as they are. Returns the file written."""
    path = os.fspath(path)
    output = os.fspath(output) if output else path
    _refuse_own_files(path, output)
    tmp = tmp_path(output)
    try:
        with open_cache(path) as src:
            check_shards(path, src)
            n = int(src["done"].shape[0])
            with h5py.File(tmp, "w", locking=False) as dst:
                for key, value in src.attrs.items():
                    if key != SHARDS_ATTR:
                        dst.attrs[key] = value
                dst.create_group("features")
                for name in dataset_names(src):
                    _copy_dataset(src[name], dst, name, n, block)
        fsync_path(tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fsync_path(os.path.dirname(os.path.abspath(output)))
    return output


def _refuse_own_files(path: str, output: str) -> None:
    """One line when ``output`` is a file the join reads (a shard, the shards folder or its plan)."""
    from featx.extract._errors import CacheError

    out = os.path.realpath(output)
    folder = os.path.realpath(os.fspath(path) + ".shards")
    base = os.path.dirname(os.path.abspath(path))
    own = {os.path.realpath(os.path.join(base, r["file"])) for r in (recorded_shards(path) or [])}
    if out in own or out == folder or out.startswith(folder + os.sep):
        raise CacheError(f"{output!r} is inside {path!r}'s own shards ({folder}); write the consolidated cache "
                         "outside that folder (default: replace the joined file itself)")
    if os.path.isdir(output):
        raise CacheError(f"{output!r} is a folder; give a file path for the consolidated cache")


def _copy_dataset(ds: h5py.Dataset, dst: h5py.File, name: str, n: int, block: int) -> None:
    if h5py.check_vlen_dtype(ds.dtype) is not None:  # the row table's strings: written once, whole
        dst.create_dataset(name, data=ds[:], dtype=ds.dtype)
        return
    kw = {}
    if ds.ndim == 2 and n:
        kw["chunks"] = (_chunk_rows(ds.shape[1], ds.dtype.itemsize, n), ds.shape[1])
    if ds.dtype.kind != "S":
        kw["fillvalue"] = 0
    out = dst.create_dataset(name, shape=ds.shape, dtype=ds.dtype, dcpl=_early(ds.shape), **kw)
    for start in range(0, n, block):
        out[start:start + block] = ds[start:start + block]
