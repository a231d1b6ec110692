"""Planning what an existing cache can reuse, and making the cache file hold exactly the
source's rows.

A row of the old cache is reused for a path of the source when it is done and the file is
unchanged: same size and modification time, or - when those changed - the same bytes (sha256).
When the row table is identical the file is kept as it is (a resumed or finished job); otherwise
a new file is written with the reused rows copied over. The old cache is read only through the
store's public row table (:func:`featx.extract.cache._store.read_rows`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from featx.extract.cache import _store
from featx.extract.images._images import file_stat, read_bytes, sha256_hex
from featx.extract.images._sources import SourceTable


def source_rows(table: SourceTable) -> _store.RowPlan:
    """The row table a cache of ``table`` holds (sizes and times as the files are now)."""
    stats = [file_stat(table.absolute(i)) for i in range(len(table))]
    return _store.RowPlan(
        paths=list(table.paths), labels=table.labels, groups=list(table.groups), splits=list(table.splits),
        sizes=np.array([s for s, _ in stats], dtype=np.int64), mtimes=np.array([m for _, m in stats], dtype=np.int64),
    )


def reuse_map(table: SourceTable, new: _store.RowPlan, old: _store.StoredRows) -> np.ndarray:
    """For each row of ``new``: the old row whose features still hold for it, or -1 (compute)."""
    index = {p: j for j, p in enumerate(old.paths)}
    reuse = np.full(len(new.paths), -1, dtype=np.int64)
    for i, p in enumerate(new.paths):
        j = index.get(p)
        if j is None or not old.done[j]:
            continue
        if old.sizes[j] == new.sizes[i] and old.mtimes[j] == new.mtimes[i]:
            reuse[i] = j
        elif new.sizes[i] >= 0 and _same_bytes(table.absolute(i), old.hashes[j]):
            reuse[i] = j
    return reuse


def _same_bytes(path: str, digest: str) -> bool:
    try:
        return sha256_hex(read_bytes(path)) == digest
    except OSError:
        return False


def same_rows(new: _store.RowPlan, old: _store.StoredRows, class_names: list[str]) -> bool:
    """True when the old file's row table is exactly ``new`` (nothing to rewrite)."""
    return (
        old.paths == new.paths
        and np.array_equal(old.labels, new.labels)
        and old.groups == new.groups
        and old.splits == new.splits
        and np.array_equal(old.sizes, new.sizes) and np.array_equal(old.mtimes, new.mtimes)
        and old.class_names == list(class_names)
    )


def prepare_cache(output: str, table: SourceTable, spec: dict, dims: dict | Callable[[], dict], dtype: str,
                  overwrite: bool) -> int:
    """Make ``output`` hold a cache for exactly ``table``'s rows; returns how many rows were
    reused from what was there. ``dims`` is the layer dimensions or a callable giving them (called
    only when a file is written)."""
    new = source_rows(table)

    def create(old=None) -> None:
        _store.create(output, new, old=old, spec=spec, layer_dims=dims() if callable(dims) else dims, dtype=dtype,
                      class_names=table.class_names, source=table.describe())

    if overwrite or not os.path.exists(output):
        create()
        return 0
    with _store.open_cache(output) as f:
        _store.check_compatible(output, _store.read_spec(f), spec)
        old = _store.read_rows(f)
        if same_rows(new, old, table.class_names):
            return int(old.done.sum())
        new.reuse = reuse_map(table, new, old)
        create(old=f)
    return int((new.reuse >= 0).sum())
