"""Planning what an existing cache can reuse, through the store's public row table."""

import os

import h5py
import numpy as np

from helpers.testdata import make_image
from featx.extract import extract, open_source
from featx.extract.cache import _store
from featx.extract.cache._planning import prepare_cache, reuse_map, same_rows, source_rows

FAST = dict(model="efficientnet_lite0", weights="none", progress=False, workers=0, batch_size=4, layers="blocks.1")


def _plan(source, cache):
    table = open_source(source)
    new = source_rows(table)
    with _store.open_cache(cache) as f:
        old = _store.read_rows(f)
        same = same_rows(new, old, table.class_names)
        reuse = reuse_map(table, new, old)
        hashed = "hashes" in vars(old)  # the column is read only when a size or time changed
    return table, reuse, same, hashed


def test_stored_rows_read_back_what_was_written(colour_dataset, tmp_path):
    cache = str(tmp_path / "c.h5")
    extract(colour_dataset, cache, **FAST)
    table = open_source(colour_dataset)
    with _store.open_cache(cache) as f:
        rows = _store.read_rows(f)
        assert len(rows) == 18 and rows.paths == table.paths and rows.class_names == ["blue", "green", "red"]
        assert np.array_equal(rows.labels, table.labels) and rows.done.all() and rows.done.dtype == bool
        assert rows.sizes.tolist() == [os.path.getsize(table.absolute(i)) for i in range(18)]
        assert rows.groups == [""] * 18 and rows.splits == [""] * 18 and all(len(h) == 64 for h in rows.hashes)


def test_unchanged_source_reuses_every_row_without_hashing(colour_dataset, tmp_path):
    cache = str(tmp_path / "c.h5")
    extract(colour_dataset, cache, **FAST)
    table, reuse, same, hashed = _plan(colour_dataset, cache)
    assert same and not hashed and reuse.tolist() == list(range(18))


def test_touched_changed_added_removed_and_pending_rows(colour_dataset, tmp_path):
    cache = str(tmp_path / "c.h5")
    extract(colour_dataset, cache, **FAST)
    with h5py.File(cache, "r+") as f:  # as a killed job leaves it
        f["done"][17] = 0
    os.utime(os.path.join(colour_dataset, "blue", "blue_001.png"), (1, 1))  # same bytes, new time
    make_image((30, 180, 40), seed=77).save(os.path.join(colour_dataset, "green", "green_001.png"))  # new bytes
    make_image((200, 30, 30), seed=99).save(os.path.join(colour_dataset, "red", "red_new.png"))  # added
    os.unlink(os.path.join(colour_dataset, "blue", "blue_002.png"))  # removed
    table, reuse, same, hashed = _plan(colour_dataset, cache)
    assert not same and hashed
    with _store.open_cache(cache) as f:
        old_paths = _store.read_rows(f).paths
    plan = {table.paths[i]: (old_paths[j] if j >= 0 else None) for i, j in enumerate(reuse)}
    assert plan[os.path.join("blue", "blue_001.png")] == os.path.join("blue", "blue_001.png")  # by hash
    assert plan[os.path.join("green", "green_001.png")] is None
    assert plan[os.path.join("red", "red_new.png")] is None
    assert plan[old_paths[17]] is None  # not done in the old file
    assert os.path.join("blue", "blue_002.png") not in plan
    assert sum(j >= 0 for j in reuse) == 18 - 1 - 1 - 1  # 18 new rows: changed, added, pending computed
    # applying the plan: a new file with the reused rows copied, the rest pending
    with _store.open_cache(cache) as f:
        spec = _store.read_spec(f)
    reused = prepare_cache(cache, table, spec, lambda: {"blocks.1": 24}, "float16", overwrite=False)
    assert reused == 15
    with _store.open_cache(cache) as f:
        rows = _store.read_rows(f)
        assert rows.paths == table.paths and int(rows.done.sum()) == 15


def test_prepare_cache_keeps_an_identical_file_and_writes_no_dims(colour_dataset, tmp_path):
    cache = str(tmp_path / "c.h5")
    extract(colour_dataset, cache, **FAST)
    before = os.stat(cache).st_ino
    table = open_source(colour_dataset)
    with _store.open_cache(cache) as f:
        spec = _store.read_spec(f)

    def no_dims():
        raise AssertionError("the dimensions are only needed when a file is written")

    assert prepare_cache(cache, table, spec, no_dims, "float16", overwrite=False) == 18
    assert os.stat(cache).st_ino == before
