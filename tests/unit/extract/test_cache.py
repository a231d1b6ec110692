import json
import os
import re
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

from helpers.testdata import make_image
from featx.extract import (
    CacheDamagedError,
    CacheError,
    CacheLockedError,
    CacheMismatchError,
    ExtractionFailedError,
    FileLock,
    cache_info,
    extract,
    read_cache,
)

FAST = dict(model="efficientnet_lite0", weights="none", progress=False, workers=0, batch_size=4)


def test_extract_and_read_back(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    s = extract(colour_dataset, out, layers="blocks.3,penultimate", **FAST)
    assert (s.rows, s.extracted, s.reused, s.failed, s.complete) == (18, 18, 0, 0, True)
    data = read_cache(out)
    assert set(data.features) == {"blocks.3", "global_pool"}
    assert data.features["global_pool"].shape == (18, 1280) and data.features["global_pool"].dtype == np.float32
    assert data.features["blocks.3"].shape == (18, 80)
    assert data.class_names == ["blue", "green", "red"]
    assert np.bincount(data.labels).tolist() == [6, 6, 6]
    assert len(set(data.hashes)) == 18 and all(len(h) == 64 for h in data.hashes)
    with h5py.File(out, "r") as f:
        for key in ("format", "format_version", "featx_version", "spec", "library_versions", "created", "complete"):
            assert key in f.attrs, key
        assert f["features/global_pool"].dtype == np.float16 and f["features/global_pool"].chunks
    assert data.meta["weights_sha256"] and data.meta["layers"] == ["blocks.3", "global_pool"]
    # the features separate the colour classes: nearest class mean on training rows is exact
    X, y = data.features["global_pool"], data.labels
    means = np.stack([X[y == k].mean(0) for k in range(3)])
    assert (np.argmin(((X[:, None] - means[None]) ** 2).sum(-1), 1) == y).mean() == 1.0


def test_rerun_of_complete_job_does_no_model_work(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    extract(colour_dataset, out, **FAST)
    before = read_cache(out).features["global_pool"]
    s = extract(colour_dataset, out, **FAST)
    assert (s.extracted, s.reused) == (0, 18)
    record = s.as_record()
    assert json.loads(json.dumps(record)) == record  # plain data
    assert record == {"cache": out, "rows": 18, "extracted": 0, "reused": 18, "failed": 0, "pending": 0,
                      "seconds": s.seconds, "device": s.device, "batch_size": 4, "complete": True,
                      "runtime": s.runtime, "images_per_second": 0.0}
    np.testing.assert_array_equal(read_cache(out).features["global_pool"], before)


def test_incremental_added_changed_removed(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    extract(colour_dataset, out, **FAST)
    old = read_cache(out)
    make_image((200, 30, 30), seed=99).save(os.path.join(colour_dataset, "red", "red_new.png"))
    make_image((30, 180, 40), seed=77).save(os.path.join(colour_dataset, "green", "green_001.png"))  # changed
    os.unlink(os.path.join(colour_dataset, "blue", "blue_002.png"))
    s = extract(colour_dataset, out, **FAST)
    assert (s.rows, s.extracted, s.reused) == (18, 2, 16)
    new = read_cache(out)
    for path in set(old.paths) & set(new.paths) - {os.path.join("green", "green_001.png")}:
        np.testing.assert_array_equal(new.features["global_pool"][new.paths.index(path)],
                                      old.features["global_pool"][old.paths.index(path)])
    # touching a file without changing its bytes is detected by hash: nothing recomputed
    os.utime(os.path.join(colour_dataset, "red", "red_000.jpg"), (1, 1))
    assert extract(colour_dataset, out, **FAST).extracted == 0


def test_other_settings_are_refused_with_the_differing_keys(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    extract(colour_dataset, out, **FAST)
    with pytest.raises(CacheMismatchError, match=r"pooling: cache has avg, asked max.*--overwrite"):
        extract(colour_dataset, out, **{**FAST, "pool": "max"})
    with pytest.raises(CacheMismatchError, match="layers"):
        extract(colour_dataset, out, layers="blocks.2", **FAST)
    s = extract(colour_dataset, out, overwrite=True, **{**FAST, "pool": "max"})
    assert s.extracted == 18 and read_cache(out).meta["pooling"] == "max"


def test_bad_images_are_recorded_and_skipped(odd_images, tmp_path):
    root, expect = odd_images
    out = str(tmp_path / "odd.h5")
    s = extract(root, out, **FAST)
    bad = {n for n, ok in expect.items() if not ok}
    assert s.failed == len(bad) and s.extracted == len(expect) - len(bad) and s.complete
    data = read_cache(out)
    assert {os.path.basename(p) for p, _ in data.failures} == bad
    assert all(reason for _, reason in data.failures)
    info = cache_info(out)
    assert info["counts"]["failed"] == len(bad)
    with pytest.raises(ExtractionFailedError, match="--strict"):
        extract(root, str(tmp_path / "strict.h5"), strict=True, **FAST)


def test_nothing_decodable_is_an_error(tmp_path):
    (tmp_path / "a.png").write_text("nope")
    with pytest.raises(ExtractionFailedError, match="none of the 1 images"):
        extract(str(tmp_path), str(tmp_path / "x.h5"), **FAST)


def test_second_writer_fails_fast(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    with FileLock(out):
        with pytest.raises(CacheLockedError, match=f"pid {os.getpid()}"):
            extract(colour_dataset, out, **FAST)
    assert extract(colour_dataset, out, **FAST).complete  # the lock is gone with its holder


def test_lock_left_by_a_killed_process_is_stale(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    code = f"from featx.extract import FileLock; import os; FileLock({out!r}).acquire(); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert os.path.exists(out + ".lock")
    assert extract(colour_dataset, out, **FAST).complete


ORPHAN = """
import os, sys, time
from featx.extract import FileLock
lock = FileLock(sys.argv[1]).acquire()
if os.fork() == 0:  # a forked child (as a DataLoader worker is) outliving its parent
    print(os.getpid(), flush=True)
    time.sleep(30)
    os._exit(0)
time.sleep(30)
"""


def test_forked_children_of_a_killed_job_do_not_keep_its_lock(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN, out], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        with pytest.raises(CacheLockedError):  # the parent holds it
            FileLock(out).acquire()
        parent.kill()
        parent.wait()
        os.kill(child, 0)  # the child is still alive ...
        assert extract(colour_dataset, out, **FAST).complete  # ... and the rerun is not refused
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_damaged_cache_gives_a_clear_error(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    extract(colour_dataset, out, **FAST)
    size = os.path.getsize(out)
    with open(out, "r+b") as fh:
        fh.truncate(size // 3)
    with pytest.raises(CacheDamagedError, match="damaged.*--overwrite"):
        read_cache(out)
    with pytest.raises(CacheDamagedError, match="--overwrite"):
        extract(colour_dataset, out, **FAST)
    assert extract(colour_dataset, out, overwrite=True, **FAST).extracted == 18


def test_float32_dtype_and_tta(colour_dataset, tmp_path):
    a = extract(colour_dataset, str(tmp_path / "a.h5"), dtype="float32", **FAST)
    b = extract(colour_dataset, str(tmp_path / "b.h5"), dtype="float32", tta="hflip", **FAST)
    fa = read_cache(a.path).features["global_pool"]
    fb = read_cache(b.path).features["global_pool"]
    assert not np.allclose(fa, fb)
    # hflip TTA of a mirror-symmetric image equals its plain features
    sym = tmp_path / "sym" / "c"
    os.makedirs(sym)
    arr = np.asarray(make_image((100, 100, 100), size=(20, 20)))
    from PIL import Image
    Image.fromarray(np.concatenate([arr, arr[:, ::-1]], axis=1)).save(sym / "s.png")
    p = extract(str(tmp_path / "sym"), str(tmp_path / "p.h5"), dtype="float32", **FAST)
    q = extract(str(tmp_path / "sym"), str(tmp_path / "q.h5"), dtype="float32", tta="hflip", **FAST)
    np.testing.assert_allclose(read_cache(p.path).features["global_pool"], read_cache(q.path).features["global_pool"], rtol=1e-4, atol=1e-5)


def test_info_on_half_written_cache(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    extract(colour_dataset, out, **FAST)
    with h5py.File(out, "r+") as f:  # as a killed job leaves it: some rows pending
        f["done"][5:] = 0
        f.attrs["complete"] = False
    info = cache_info(out)
    assert info["counts"]["pending"] == 13 and info["complete"] is False
    with pytest.raises(CacheError, match=rf"^cache {re.escape(repr(out))} is incomplete \(5 of 18 rows done\); rerun the same "
                       r"'featx extract' command to finish it$") as caught:
        read_cache(out)
    assert type(caught.value) is CacheError  # not CacheDamagedError: nothing is broken, the job is unfinished
    assert len(read_cache(out, allow_incomplete=True)) == 5
    s = extract(colour_dataset, out, **FAST)
    assert (s.extracted, s.reused, s.complete) == (13, 5, True)
