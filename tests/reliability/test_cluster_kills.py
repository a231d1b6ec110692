"""Real SIGKILLs during an extraction on a loopback Dask cluster: a worker killed mid-shard (its
task is retried and resumes the shard from its done mask), and the driver killed mid-job (the
same command skips the complete shards, untouched, and resumes the partial ones). Both end with a
cache bitwise equal to a single-process run. Each kill lands at a planned stop point
(``tests/helpers/paused_featx.py``: the process stops itself there and is killed while stopped),
never "soon enough", so a fast or an idle machine cannot finish the job first."""

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

from helpers.cluster_models import assert_equal_caches, tiny_checkpoint
from helpers.testdata import child_pids, write_colour_dataset
from helpers.paused_featx import pause_mid_shard
from helpers.processes import PAUSED_FEATX, wait_stopped
from featx.extract import extract

DEADLINE = 240  # seconds: a hang guard only, never reached by a healthy run


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
    marker = str(tmp_path / "paused")
    with local_cluster(2) as lc, distributed.Client(lc) as client:
        # the planned stop point: the first worker to have written part of a shard stops itself there
        pids = set(client.run(pause_mid_shard, marker).values())
        outcome = {}

        def drive():
            try:
                outcome["summary"] = extract(src, out, cluster=client, shard_size=64, **kw)  # 2 shards, 32 and 31 batches
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                outcome["error"] = exc

        driver = threading.Thread(target=drive)
        driver.start()
        holder, killed = wait_stopped(marker, within=DEADLINE).split(" ", 1)
        assert int(holder) in pids
        with h5py.File(killed, "r", locking=False) as f:  # the rows the stopped worker had finished
            done_mask = f["done"][:].astype(bool)
            snapshot = {k: f["features"][k][:][done_mask] for k in f["features"]}
            hashes = f["sha256"][:][done_mask]
        assert 2 <= done_mask.sum() < len(done_mask)
        os.kill(int(holder), signal.SIGKILL)
        driver.join(DEADLINE)
        assert not driver.is_alive() and "error" not in outcome, outcome.get("error")
    summary = outcome["summary"]
    assert summary.complete and summary.workers_lost == 1 and summary.retried == 1, summary.line()
    assert summary.shards_resumed == 1 and summary.extracted == 126 - done_mask.sum(), summary.line()  # resumed
    with h5py.File(killed, "r", locking=False) as f:
        assert all(np.array_equal(f["features"][k][:][done_mask], v) for k, v in snapshot.items())
        assert np.array_equal(f["sha256"][:][done_mask], hashes)
    assert_equal_caches(reference, out)


def featx(*args):
    return [sys.executable, "-m", "featx.pipelines", *args]


def test_driver_killed_mid_job_then_rerun_skips_complete_shards_and_a_second_driver_fails_fast(setup, tmp_path):
    base, src, kw, reference = setup
    out = str(tmp_path / "joined.h5")
    args = ["extract", src, "-o", out, "--model", kw["model"], "--runtime", "openvino", "--batch-size", "2",
            "--workers", "0", "--cluster", "local:2", "--shard-size", "16"]  # 8 shards
    cmd = featx(*args)
    # the planned stop point: once the driver has collected 2 finished shards it stops its process
    # group (itself and its 2 local workers) - so at most 2 + 2 shards are complete, never all 8
    marker = str(tmp_path / "paused")
    env = dict(os.environ, FEATX_PAUSE_AFTER_SHARDS=f"2:{marker}")
    proc = subprocess.Popen([sys.executable, PAUSED_FEATX, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_stopped(marker, pid=proc.pid, proc=proc, within=DEADLINE)
        workers = child_pids(proc.pid)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=DEADLINE)  # the first one holds the lock
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip().splitlines() == [
            f"error: {out} is being written by another featx process (pid {proc.pid}); wait for it to finish or "
            "write to another path"]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        os.killpg(proc.pid, signal.SIGCONT)  # its stopped workers go on only to see that the driver is gone
        deadline = time.time() + DEADLINE
        while any(alive(pid) for pid in workers) and time.time() < deadline:  # its workers exit with it
            time.sleep(0.05)
        assert workers and not any(alive(pid) for pid in workers)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    files = shard_files(out)
    complete = [p for p in files if is_complete(p)]  # final now: no process writes them any more
    before = {p: os.stat(p).st_mtime_ns for p in complete}
    assert len(files) == 8 and 2 <= len(complete) <= 6 and not os.path.exists(out)
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=DEADLINE)
    assert rerun.returncode == 0, rerun.stderr
    assert {p: os.stat(p).st_mtime_ns for p in complete} == before
    assert f"8 shard(s): {8 - len(before)} run, {len(before)} unchanged" in rerun.stdout, rerun.stdout
    assert_equal_caches(reference, out)
