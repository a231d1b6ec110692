"""Extraction on a real loopback Dask cluster (2 worker processes, 1 thread each): the joined
cache equals a single-process run bitwise, reruns touch nothing, an added image rewrites one
shard, a deleted shard is refused in one line, consolidation gives an ordinary equal file, and
the failures a user can fix are one line each."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
import distributed  # a core dependency: imported, never skipped

from helpers.cluster_models import tiny_checkpoint
from helpers.testdata import make_image, write_colour_dataset
from featx.extract import (
    CacheDamagedError, CacheLockedError, ClusterExtractError, FileLock, cache_info, consolidate, extract,
    read_cache,
)

BATCH = 8
DATASETS = ("paths", "labels", "groups", "splits", "sizes", "mtimes", "sha256", "failure", "done")
PER_RUN_ATTRS = {"created", "joined_shards", "request_key"}  # a join's own; the rest equal one process's


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("cluster")
    src = write_colour_dataset(base / "imgs", per_class=70, size=(24, 20))  # 210 images
    kw = dict(model=tiny_checkpoint(base / "tiny.pt"), batch_size=BATCH, workers=0, runtime="openvino", progress=False)
    reference = str(base / "one.h5")
    extract(src, reference, **kw)
    return base, src, kw, reference


@pytest.fixture(scope="module")
def client():
    from featx.common.cluster import local_cluster

    with local_cluster(2) as lc, distributed.Client(lc) as c:
        yield c


def assert_same_cache(a_path, b_path):
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        for name in DATASETS + tuple(f"features/{k}" for k in a["features"]):
            assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
            assert np.array_equal(a[name][:], b[name][:]), name
        assert sorted(a["features"]) == sorted(b["features"])
        for key in set(a.attrs) - PER_RUN_ATTRS:
            assert a.attrs[key] == b.attrs[key], key
        assert set(a.attrs) - PER_RUN_ATTRS == set(b.attrs) - PER_RUN_ATTRS


def mtimes(folder):
    return {n: os.stat(os.path.join(folder, n)).st_mtime_ns for n in sorted(os.listdir(folder)) if n.endswith(".h5")}


def test_sharded_extraction_equals_one_process_bitwise_and_reruns_touch_nothing(setup, client, tmp_path):
    base, src, kw, reference = setup
    out = str(tmp_path / "joined.h5")
    summary = extract(src, out, cluster=client, shard_size=40, **kw)
    assert summary.shards == 6 and summary.complete and summary.extracted == 210, summary.line()
    assert "6 shard(s): 6 run" in summary.line()
    with h5py.File(out, "r") as f:
        assert f["features"][next(iter(f["features"]))].is_virtual and f["done"].is_virtual
    assert_same_cache(reference, out)
    a, b = read_cache(reference), read_cache(out)
    assert a.paths == b.paths and a.describe() == b.describe()
    info = cache_info(out)
    assert info["readable"] and info["counts"]["extracted"] == 210
    shards = out + ".shards"
    before, joined = mtimes(shards), os.stat(out).st_mtime_ns
    again = extract(src, out, cluster=client, **kw)  # the plan's shard size is kept
    assert again.extracted == 0 and again.reused == 210 and again.shards_run == 0 and again.shards == 6
    assert mtimes(shards) == before and os.stat(out).st_mtime_ns == joined


def test_an_added_image_rewrites_only_its_shard_and_matches_one_process(setup, client, tmp_path):
    base, src0, kw, _ = setup
    src = shutil.copytree(src0, tmp_path / "imgs")
    out = str(tmp_path / "joined.h5")
    extract(src, out, cluster=client, shard_size=40, **kw)
    before = mtimes(out + ".shards")
    make_image((30, 180, 40), seed=999).save(os.path.join(src, "green", "green_030b.png"))  # row 100: shard 00002
    summary = extract(src, out, cluster=client, **kw)
    assert summary.extracted == 1 and summary.reused == 210 and summary.shards_run == 1
    after = mtimes(out + ".shards")
    assert [n for n in before if after[n] != before[n]] == ["00002.h5"]
    reference = str(tmp_path / "one.h5")
    extract(src, reference, **kw)
    assert_same_cache(reference, out)


def test_a_deleted_shard_is_refused_in_one_line_and_consolidation_is_an_ordinary_equal_file(setup, client, tmp_path):
    base, src, kw, reference = setup
    out = str(tmp_path / "joined.h5")
    extract(src, out, cluster=client, shard_size=80, **kw)
    single = str(tmp_path / "single.h5")
    cli = subprocess.run([sys.executable, "-m", "featx.pipelines", "consolidate", out, "-o", single], capture_output=True,
                         text=True, timeout=120)
    assert cli.returncode == 0 and "consolidated" in cli.stdout, cli.stderr
    with h5py.File(single, "r") as f:
        assert not any(f[n].is_virtual for n in DATASETS) and "joined_shards" not in f.attrs
    assert_same_cache(out, single)
    assert_same_cache(reference, single)
    os.unlink(out + ".shards/00001.h5")
    with pytest.raises(CacheDamagedError) as err:
        read_cache(out)
    message = str(err.value)
    assert "00001.h5" in message and "missing" in message and "rerun" in message and "\n" not in message
    assert any("00001.h5" in p for p in cache_info(out)["problems"])
    with pytest.raises(CacheDamagedError, match="00001.h5"):
        consolidate(out)
    assert len(read_cache(single)) == 210  # the consolidated file needs no shard
    cli = subprocess.run([sys.executable, "-m", "featx.pipelines", "info", out], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2 and "00001.h5" in cli.stdout


def test_a_changed_shard_is_refused_and_the_rerun_rebuilds_it(setup, client, tmp_path):
    base, src, kw, reference = setup
    out = str(tmp_path / "joined.h5")
    extract(src, out, cluster=client, shard_size=80, **kw)
    with h5py.File(out + ".shards/00000.h5", "r+", locking=False) as f:  # a shard rewritten behind the join's back
        f["done"][0] = 0
    with pytest.raises(CacheDamagedError, match=r"00000.h5.*changed content"):
        read_cache(out)
    summary = extract(src, out, cluster=client, **kw)
    assert summary.extracted == 1 and summary.shards_resumed == 1
    assert_same_cache(reference, out)


def test_a_second_driver_fails_fast_without_touching_the_output(setup, tmp_path):
    base, src, kw, _ = setup
    out = str(tmp_path / "joined.h5")
    with FileLock(out):  # the first driver holds the output's lock
        with pytest.raises(CacheLockedError, match="being written by another featx process"):
            extract(src, out, cluster="local:2", **kw)
    assert not os.path.exists(out + ".shards")


def test_a_path_a_worker_cannot_see_is_named_with_the_worker(client, tmp_path):
    from featx.extract.cluster._cluster import _check_visible, _sub_table, run_shard
    from featx.extract.images._sources import SourceTable

    missing = str(tmp_path / "not-mounted")
    with pytest.raises(ClusterExtractError) as err:
        _check_visible(client, str(tmp_path), missing)
    message = str(err.value)
    assert "not-mounted" in message and "tcp://127.0.0.1:" in message and "\n" not in message
    table = SourceTable(missing, "folder", ["a/x.png"], np.zeros(1, dtype=np.int64), ["a"], groups=[""], splits=[""])
    job = {"path": str(tmp_path / "o.h5.shards" / "00000.h5"), "table": _sub_table(table, 0, 1), "overwrite": False,
           "settings": {}}
    with pytest.raises(ClusterExtractError, match=r"worker tcp://127\.0\.0\.1:\d+ .*cannot see .*not-mounted"):
        client.submit(run_shard, job, pure=False).result()


def test_without_dask_the_cli_says_how_to_install_it_in_one_line(setup, tmp_path):
    base, src, kw, _ = setup
    code = ("import sys; sys.modules['distributed'] = None\n"
            "from featx.pipelines.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    out = str(tmp_path / "x.h5")
    run = subprocess.run([sys.executable, "-c", code, "extract", src, "-o", out, "--model", kw["model"], "--cluster", "local:2"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "pip install 'dask[distributed]'" in lines[0]
    assert not os.path.exists(out + ".shards") and not os.path.exists(out)


def test_other_settings_are_refused_before_any_work_and_overwrite_replaces_every_shard(setup, client, tmp_path):
    from featx.extract import CacheError, CacheMismatchError

    base, src, kw, reference = setup
    with pytest.raises(CacheError, match="not written by an extraction on a cluster"):
        extract(src, reference, cluster=client, **kw)  # an ordinary cache is never replaced unasked
    out = str(tmp_path / "joined.h5")
    extract(src, out, cluster=client, shard_size=112, **kw)
    before = mtimes(out + ".shards")
    with pytest.raises(CacheMismatchError, match=r"tta: 'none' recorded, 'hflip' asked.*--overwrite"):
        extract(src, out, cluster=client, **{**kw, "tta": "hflip"})
    assert mtimes(out + ".shards") == before
    summary = extract(src, out, cluster=client, overwrite=True, **{**kw, "tta": "hflip"})
    assert summary.extracted == 210 and summary.shards == 2
    assert read_cache(out).meta["tta"] == "hflip"
