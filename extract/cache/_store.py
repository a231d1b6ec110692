"""The HDF5 feature cache: layout, crash-safe writes and reading.

Layout (format ``featx.cache`` version 1), one row per source image in source order::

    /paths /labels /groups /splits /sizes /mtimes    written once, when the file is created
    /sha256 (S64)  /failure (S256)  /done (uint8)    per-row state, written as rows finish
    /features/<layer>  (N, D) float16|float32         chunked, one dataset per tapped layer
    root attrs: format, format_version, featx_version, spec (JSON: model, weights sha256,
                preprocessing, layers, pooling, dtype, tta, decoding), class_names, source,
                library_versions, created, complete

Crash safety: a file is always created complete under a temporary name and renamed into place,
with every dataset allocated up front (``H5D_ALLOC_TIME_EARLY``). After that a job only writes
raw data into allocated space: features and hashes first, flushed, then the ``done`` flags,
flushed. A kill at any moment leaves a valid file whose ``done`` rows are all fully written.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass, field

import h5py
import numpy as np

from featx.common import fsync_path, versions
from featx.common.files import tmp_path
from featx.extract._errors import CacheDamagedError, CacheError, CacheMismatchError, CacheWriteError
from featx.common.messages import first_line

FORMAT = "featx.cache"
FORMAT_VERSION = 1
REASON_BYTES = 256
# Spec keys that must agree for features to be mixed in one file ('model' and 'weights' are
# only descriptions: the same weights moved to another path hash the same).
IDENTITY_KEYS = ("source", "arch", "weights_sha256", "preprocessing", "layers", "pooling", "dtype", "tta", "decoding",
                 "runtime")


def _enc(strings) -> np.ndarray:
    return np.array([s.encode("utf-8", "surrogateescape") for s in strings], dtype=object)


def _dec(values) -> list[str]:
    return [v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else str(v) for v in values]


def _early(_shape=None):
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return dcpl


def _chunk_rows(dim: int, itemsize: int, n: int) -> int:
    return int(max(1, min(n, (1 << 18) // max(1, dim * itemsize))))  # ~256 KiB chunks


def library_versions() -> dict:
    """The versions stored as provenance in every cache (plus the HDF5 library's)."""
    out = versions("featx", "torch", "torchvision", "timm", "h5py", "numpy", "pillow", python=False)
    out["hdf5"] = h5py.version.hdf5_version
    return out


@dataclass
class RowPlan:
    """What the new file's rows are and which old rows they reuse (-1: compute)."""

    paths: list[str]
    labels: np.ndarray
    groups: list[str]
    splits: list[str]
    sizes: np.ndarray
    mtimes: np.ndarray
    reuse: np.ndarray = field(default=None)


def create(path: str, plan: RowPlan, *, spec: dict, layer_dims: dict[str, int], dtype: str,
           class_names: list[str], source: dict, old: "h5py.File | None" = None) -> None:
    """Write a new cache for ``plan`` under a temporary name, copy reused rows from ``old``,
    and rename it into place."""
    n = len(plan.paths)
    if os.path.isdir(path):
        raise CacheWriteError(f"cannot write cache {path!r}: it is a folder; name a cache file (e.g. "
                              f"{os.path.join(path, 'features.h5')!r})")
    tmp = tmp_path(path)  # a name remove_stale_tmp recognises, should this process be killed
    try:
        _create_file(tmp, path, plan, n, spec, layer_dims, dtype, class_names, source, old)
    except (OSError, ValueError, RuntimeError) as exc:  # h5py reports failed writes as any of these
        raise CacheWriteError(
            f"cannot write cache {path!r} ({first_line(exc)}); free disk space (or raise the file size "
            "limit) and rerun the same command - the existing cache, if any, is unchanged"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _create_file(tmp, path, plan, n, spec, layer_dims, dtype, class_names, source, old) -> None:
    with h5py.File(tmp, "w", locking=False) as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["featx_version"] = library_versions()["featx"] or "unknown"
        f.attrs["spec"] = json.dumps(spec, sort_keys=True)
        f.attrs["class_names"] = json.dumps(list(class_names))
        f.attrs["source"] = json.dumps(source, sort_keys=True)
        f.attrs["library_versions"] = json.dumps(library_versions(), sort_keys=True)
        f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        f.attrs["complete"] = False
        f.attrs["layer_dims"] = json.dumps(layer_dims)
        vstr = h5py.vlen_dtype(bytes)
        f.create_dataset("paths", data=_enc(plan.paths), dtype=vstr)
        f.create_dataset("groups", data=_enc(plan.groups), dtype=vstr)
        f.create_dataset("splits", data=_enc(plan.splits), dtype=vstr)
        f.create_dataset("labels", data=np.asarray(plan.labels, dtype=np.int64))
        f.create_dataset("sizes", data=np.asarray(plan.sizes, dtype=np.int64))
        f.create_dataset("mtimes", data=np.asarray(plan.mtimes, dtype=np.int64))
        f.create_dataset("sha256", shape=(n,), dtype="S64", dcpl=_early((n,)))
        f.create_dataset("failure", shape=(n,), dtype=f"S{REASON_BYTES}", dcpl=_early((n,)))
        f.create_dataset("done", shape=(n,), dtype=np.uint8, dcpl=_early((n,)), fillvalue=0)
        g = f.create_group("features")
        np_dtype = np.dtype(dtype)
        for layer, dim in layer_dims.items():
            rows = _chunk_rows(dim, np_dtype.itemsize, n)
            g.create_dataset(layer, shape=(n, dim), dtype=np_dtype, chunks=(rows, dim) if n else None,
                             dcpl=_early((n, dim)), fillvalue=0)
        if old is not None and plan.reuse is not None:
            _copy_rows(old, f, plan.reuse, list(layer_dims))
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(os.path.dirname(os.path.abspath(path)))


def _copy_rows(old: h5py.File, new: h5py.File, reuse: np.ndarray, layers: list[str], block: int = 4096) -> None:
    dst = np.flatnonzero(reuse >= 0)
    if not len(dst):
        return
    src = reuse[dst]
    for start in range(0, len(dst), block):
        d, s = dst[start:start + block], src[start:start + block]
        order = np.argsort(s)
        s_sorted, d_sorted = s[order], d[order]
        for name in ["sha256", "failure", "done"] + [f"features/{layer}" for layer in layers]:
            values = old[name][s_sorted] if len(s_sorted) > 1 else old[name][s_sorted[0]:s_sorted[0] + 1]
            _write_rows(new[name], d_sorted, values)


def _write_rows(ds, rows: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` at sorted ``rows`` as contiguous runs (h5py slices are far faster than
    point selections)."""
    if not len(rows):
        return
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(rows)]])
    for a, b in zip(starts, ends):
        ds[rows[a]:rows[a] + (b - a)] = values[a:b]


def open_cache(path: str, mode: str = "r", **file_kwargs) -> h5py.File:
    """Open a cache file, turning HDF5's errors into one clear line."""
    if not os.path.exists(path):
        raise CacheError(f"cache {path!r} does not exist; create it with 'featx extract SOURCE -o {path}'")
    if os.path.isdir(path):
        raise CacheError(f"{path!r} is a folder, not a cache file; name the cache file (e.g. "
                         f"{os.path.join(path, 'features.h5')!r})")
    try:
        f = h5py.File(path, mode, locking=False, **file_kwargs)
    except OSError as exc:
        raise CacheDamagedError(
            f"cache {path!r} is damaged or not an HDF5 file ({first_line(exc)}); delete it or rerun "
            "'featx extract' with --overwrite to rebuild it"
        ) from None
    try:
        fmt = f.attrs.get("format")
        version = int(f.attrs.get("format_version", 0))
    except Exception as exc:  # damaged metadata
        f.close()
        raise CacheDamagedError(f"cache {path!r} is damaged ({first_line(exc)}); rerun 'featx extract' with --overwrite to rebuild it") from None
    if fmt != FORMAT:
        f.close()
        raise CacheError(f"{path!r} is an HDF5 file but not a featx cache; choose another output path")
    if version > FORMAT_VERSION:
        f.close()
        raise CacheError(f"cache {path!r} has format version {version}, newer than this featx reads ({FORMAT_VERSION}); upgrade featx")
    return f


def read_spec(f: h5py.File) -> dict:
    return json.loads(f.attrs["spec"])


class StoredRows:
    """The row table of an open cache, each column read on first use: ``paths``, ``labels``,
    ``groups``, ``splits``, ``sizes``, ``mtimes``, ``done`` (bool), ``hashes`` (sha256 hex; a
    plan reads them only when a file's size or time changed) and the stored ``class_names``."""

    def __init__(self, f: h5py.File):
        self._f = f

    def __len__(self) -> int:
        return int(self._f["done"].shape[0])

    def _strings(self, name: str) -> list[str]:
        return _dec(self._f[name][:])

    paths = functools.cached_property(lambda self: self._strings("paths"))
    groups = functools.cached_property(lambda self: self._strings("groups"))
    splits = functools.cached_property(lambda self: self._strings("splits"))
    hashes = functools.cached_property(lambda self: self._strings("sha256"))
    labels = functools.cached_property(lambda self: self._f["labels"][:])
    sizes = functools.cached_property(lambda self: self._f["sizes"][:])
    mtimes = functools.cached_property(lambda self: self._f["mtimes"][:])
    done = functools.cached_property(lambda self: self._f["done"][:].astype(bool))
    class_names = functools.cached_property(lambda self: json.loads(self._f.attrs.get("class_names", "[]")))


def read_rows(f: h5py.File) -> StoredRows:
    """The stored row table of the open cache ``f`` (columns read lazily)."""
    return StoredRows(f)


def check_compatible(path: str, stored: dict, wanted: dict) -> None:
    differing = [k for k in IDENTITY_KEYS if stored.get(k) != wanted.get(k)]
    if differing:
        detail = "; ".join(f"{k}: cache has {_short(stored.get(k))}, asked {_short(wanted.get(k))}" for k in differing)
        raise CacheMismatchError(
            f"cache {path!r} was made with other settings ({detail}); write to another path or pass "
            "--overwrite to replace it (features are never mixed)"
        )


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


class CacheWriter:
    """Writes finished rows into an existing cache (raw data only; see the module docstring)."""

    def __init__(self, path: str, fsync_every: float = 10.0):
        self.path = path
        # No chunk cache: every write reaches the file before ``write`` returns, so a write error
        # (full disk) raises here, before any row is marked done - never later, when HDF5 evicts
        # a cached chunk and can only print the error.
        self.f = open_cache(path, "r+", rdcc_nbytes=0)
        self.layers = list(self.f["features"].keys())
        self.n_rows = int(self.f["done"].shape[0])
        self._fsync_every = fsync_every
        self._last_sync = time.monotonic()
        self.failed = False

    def pending(self) -> np.ndarray:
        return np.flatnonzero(self.f["done"][:] == 0)

    def write(self, rows: np.ndarray, features: dict[str, np.ndarray], hashes: list[str],
              failed_rows: np.ndarray, failed_hashes: list[str], reasons: list[str]) -> None:
        """Write one batch: extracted ``rows`` with their features, and ``failed_rows`` with
        reasons; rows become ``done`` only after their data is flushed. A write error (full disk,
        file size limit) stops the job with a clear message; finished rows stay valid."""
        try:
            self._write(rows, features, hashes, failed_rows, failed_hashes, reasons)
        except (OSError, ValueError, RuntimeError) as exc:  # h5py reports failed writes as any of these
            self.failed = True
            raise CacheWriteError(
                f"cannot write to cache {self.path!r} ({first_line(exc)}); every row finished before "
                "is kept - free disk space and rerun the same command to resume"
            ) from None

    def _write(self, rows, features, hashes, failed_rows, failed_hashes, reasons) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        failed_rows = np.asarray(failed_rows, dtype=np.int64)
        if len(rows):
            order = np.argsort(rows)
            for layer in self.layers:
                _write_rows(self.f["features"][layer], rows[order], np.asarray(features[layer])[order])
            _write_rows(self.f["sha256"], rows[order], np.array(hashes, dtype="S64")[order])
        if len(failed_rows):
            order = np.argsort(failed_rows)
            enc = [r.encode("utf-8", "replace")[:REASON_BYTES] for r in reasons]
            _write_rows(self.f["failure"], failed_rows[order], np.array(enc, dtype=f"S{REASON_BYTES}")[order])
            _write_rows(self.f["sha256"], failed_rows[order], np.array(failed_hashes, dtype="S64")[order])
        self.f.flush()
        all_rows = np.sort(np.concatenate([rows, failed_rows]))
        _write_rows(self.f["done"], all_rows, np.ones(len(all_rows), dtype=np.uint8))
        self.f.flush()
        if time.monotonic() - self._last_sync > self._fsync_every:
            self.sync()

    def sync(self) -> None:
        self.f.flush()
        try:
            os.fsync(self.f.id.get_vfd_handle())
        except (OSError, ValueError, TypeError):
            fsync_path(self.path)
        self._last_sync = time.monotonic()

    def finish(self) -> bool:
        """Mark the cache complete when every row is done; returns whether it is."""
        complete = bool((self.f["done"][:] != 0).all())
        if bool(self.f.attrs.get("complete", False)) != complete:
            self.f.attrs["complete"] = complete
        self.sync()
        return complete

    def close(self) -> None:
        if self.f.id.valid:
            try:
                self.f.close()
            except (OSError, ValueError, RuntimeError):
                if not self.failed:  # after a failed write HDF5 retries it on close: already reported
                    raise
