"""Real SIGKILLs during an extraction on a loopback Dask cluster: a worker killed mid-shard (its
task is retried and resumes the shard from its done mask), and the driver killed mid-job (the
same command skips the complete shards, untouched, and resumes the partial ones). Both end with a
cache bitwise equal to a single-process run. No sleeps are tuned to speed: the tests poll the
shard files for the state they need."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest

from featx_testdata import cache_done_rows, child_pids, write_colour_dataset
from featx.extract import build_backbone, extract, read_cache, save_checkpoint
from featx.extract._preprocess import Preprocessing

pytest.importorskip("distributed")

DEADLINE = 240  # seconds: a hang guard only, never reached by a healthy run


def tiny_checkpoint(path) -> str:
    """efficientnet_lite0, seeded random weights, at 32x32 input: a real model that runs fast."""
    b = build_backbone("efficientnet_lite0", "none")
    save_checkpoint(str(path), b.module, arch={"source": b.spec.source, "arch": b.spec.arch},
                    preprocessing=Preprocessing(crop_size=32, resize_size=32).to_dict())
    return str(path)


def assert_equal_caches(a_path, b_path):
    a, b = read_cache(a_path), read_cache(b_path)
    assert a.paths == b.paths and np.array_equal(a.labels, b.labels) and list(a.hashes) == list(b.hashes)
    assert a.failures == b.failures
    for layer in a.features:
        np.testing.assert_array_equal(a.features[layer], b.features[layer])


def shard_files(out) -> list[str]:
    try:
        with open(out + ".shards/plan.json") as fh:
            return [os.path.join(out + ".shards", s["file"]) for s in json.load(fh)["shards"]]
    except (OSError, ValueError):
        return []


def is_complete(path) -> bool:
    try:
        with h5py.File(path, "r", locking=False) as f:
            return bool(f.attrs.get("complete", False))
    except Exception:  # noqa: BLE001 - not created yet, or caught mid-rename
        return False


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("kills")
    src = write_colour_dataset(base / "imgs", per_class=42, size=(64, 48))  # 126 images
    kw = dict(model=tiny_checkpoint(base / "tiny.pt"), batch_size=2, workers=0, runtime="openvino", progress=False)
    reference = str(base / "one.h5")
    extract(src, reference, **kw)
    return base, src, kw, reference


def test_worker_killed_mid_shard_is_retried_and_resumes_the_shard(setup, tmp_path):
    import distributed

    from featx.common.cluster import local_cluster

    base, src, kw, reference = setup
    out = str(tmp_path / "joined.h5")
    with local_cluster(2) as lc, distributed.Client(lc) as client:
        outcome = {}

        def drive():
            try:
                outcome["summary"] = extract(src, out, cluster=client, shard_size=64, **kw)  # 2 shards, 32 and 31 batches
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                outcome["error"] = exc

        driver = threading.Thread(target=drive)
        driver.start()
        killed, snapshot = None, None
        deadline = time.time() + DEADLINE
        while driver.is_alive() and killed is None and time.time() < deadline:
            for path in shard_files(out):
                done = cache_done_rows(path)
                if 0 < done < 62 and os.path.exists(path + ".lock"):
                    with open(path + ".lock") as fh:
                        holder = fh.read().strip()
                    if holder.isdigit() and int(holder) in client.run(os.getpid).values():
                        os.kill(int(holder), signal.SIGKILL)
                        killed = path
                        break
            time.sleep(0.01)
        assert killed, "no shard was caught half-done"
        with h5py.File(killed, "r", locking=False) as f:  # the rows the killed worker had finished
            done_mask = f["done"][:].astype(bool)
            snapshot = {k: f["features"][k][:][done_mask] for k in f["features"]}
            hashes = f["sha256"][:][done_mask]
        driver.join(DEADLINE)
        assert not driver.is_alive() and "error" not in outcome, outcome.get("error")
    summary = outcome["summary"]
    assert summary.complete and summary.workers_lost >= 1 and summary.retried >= 1, summary.line()
    assert summary.shards_resumed >= 1 and summary.extracted < 126  # resumed, not started over
    with h5py.File(killed, "r", locking=False) as f:
        assert all(np.array_equal(f["features"][k][:][done_mask], v) for k, v in snapshot.items())
        assert np.array_equal(f["sha256"][:][done_mask], hashes)
    assert_equal_caches(reference, out)


def featx(*args):
    return [sys.executable, "-m", "featx.pipelines", *args]


def test_driver_killed_mid_job_then_rerun_skips_complete_shards_and_a_second_driver_fails_fast(setup, tmp_path):
    base, src, kw, reference = setup
    out = str(tmp_path / "joined.h5")
    cmd = featx("extract", src, "-o", out, "--model", kw["model"], "--runtime", "openvino", "--batch-size", "2",
                "--workers", "0", "--cluster", "local:2", "--shard-size", "16")  # 8 shards
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + DEADLINE
    complete = []
    while proc.poll() is None and time.time() < deadline:
        files = shard_files(out)
        complete = [p for p in files if is_complete(p)]
        if complete and len(complete) < len(files) - 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the job finished before it could be killed"
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=DEADLINE)  # while the first one runs
    assert second.returncode == 2 and "being written by another featx process" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    workers = child_pids(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    while any(alive(pid) for pid in workers) and time.time() < deadline:  # its workers exit with it
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers)
    complete = [p for p in shard_files(out) if is_complete(p)]  # final now: no process writes them any more
    before = {p: os.stat(p).st_mtime_ns for p in complete}
    assert complete and len(complete) < len(shard_files(out)) and not os.path.exists(out)
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=DEADLINE)
    assert rerun.returncode == 0, rerun.stderr
    assert "complete" in rerun.stdout and "unchanged" in rerun.stdout
    assert {p: os.stat(p).st_mtime_ns for p in complete} == before
    assert f"{len(before)} unchanged" in rerun.stdout
    assert_equal_caches(reference, out)
