"""A DataLoader worker killed mid-job (as the out-of-memory killer would) stops the job with one
clear line and exit 2, never a traceback (the kill lands at a planned stop point,
``helpers.paused_featx``); the finished rows are kept and the rerun completes the
cache with the same values as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from featx.extract import read_cache
from helpers.processes import PAUSED_FEATX, wait_stopped
from helpers.testdata import cache_done_rows, child_pids, write_colour_dataset

ARGS = ["--weights", "none", "--batch-size", "4", "--workers", "2", "--layers", "blocks.2"]


def _featx(*args):
    return [sys.executable, "-m", "featx.pipelines", *args]


def _kill_a_worker_once(args, stop: dict, marker: str) -> str:
    """Run ``featx ARGS`` through ``paused_featx.py`` with the planned stop point ``stop`` (env
    variables); while the job is stopped there, with its DataLoader workers running, SIGKILL one
    worker and let the job go on. It must then end with exit 2 and exactly one ``error:`` line
    (returned), no traceback. No timing decides where the kill lands."""
    proc = subprocess.Popen([sys.executable, PAUSED_FEATX, *args], env={**os.environ, **stop},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_stopped(marker, pid=proc.pid, proc=proc)
        victims = child_pids(proc.pid)
        assert victims, "the job is stopped at its planned point but has no DataLoader worker"
        os.kill(victims[0], signal.SIGKILL)
        os.kill(proc.pid, signal.SIGCONT)
        _, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2 and "Traceback" not in stderr, (proc.returncode, stderr[-2000:])
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "worker died" in errors[0], stderr[-2000:]
    return errors[0]


def test_killed_worker_stops_the_job_cleanly_and_the_rerun_resumes(tmp_path):
    src = write_colour_dataset(tmp_path / "imgs", per_class=40, size=(48, 40))
    out = str(tmp_path / "c.h5")
    marker = str(tmp_path / "stopped")
    # stops once a batch took the cache to 8 done rows (the second batch of 4)
    error = _kill_a_worker_once(["extract", src, "-o", out, *ARGS], {"FEATX_CHAOS_PAUSE": f"8:after:{marker}"}, marker)
    assert "rerun the same command" in error
    kept = cache_done_rows(out)
    assert 8 <= kept < 120
    rerun = subprocess.run(_featx("extract", src, "-o", out, *ARGS), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"reused {kept}" in rerun.stdout
    clean = str(tmp_path / "clean.h5")
    done = subprocess.run(_featx("extract", src, "-o", clean, *ARGS), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    a, b = read_cache(clean), read_cache(out)
    assert a.paths == b.paths and list(a.hashes) == list(b.hashes)
    np.testing.assert_array_equal(a.features["blocks.2"], b.features["blocks.2"])


def test_killed_worker_during_finetuning_is_one_line_and_the_rerun_resumes(tmp_path):
    src = write_colour_dataset(tmp_path / "imgs", per_class=24, size=(40, 32))
    out = str(tmp_path / "ft.pt")
    args = ["finetune", src, "-o", out, "--model", "torchvision:mobilenet_v3_small", "--weights", "none",
            "--input-size", "32", "--strategy", "full", "--epochs", "6", "--patience", "0", "--batch-size", "4",
            "--workers", "2", "--device", "cpu"]
    # stops at the first batch of epoch 2: epoch 1's state is on disk, epoch 2's workers run
    marker = str(tmp_path / "stopped")
    error = _kill_a_worker_once(args, {"FEATX_PAUSE_AT_BATCH": f"1:1:{marker}"}, marker)
    assert "is kept in" in error
    assert os.path.exists(out + ".resume") and not os.path.exists(out)
    rerun = subprocess.run(_featx(*args), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming" in rerun.stderr and os.path.exists(out) and not os.path.exists(out + ".resume")


def test_a_second_worker_death_error_during_the_shutdown_is_dropped_and_other_errors_are_not():
    """torch's SIGCHLD handler can raise the dead worker's error again while the other workers are
    joined (it fired once in CI, idle machine): stop_workers drops that repeat, nothing else."""
    from featx.extract.images._loading import stop_workers

    class Iterator:
        def __init__(self, error):
            self.error, self.calls = error, 0

        def _shutdown_workers(self):
            self.calls += 1
            raise self.error

    repeat = Iterator(RuntimeError("DataLoader worker (pid 15084) is killed by signal: Killed. "))
    stop_workers(repeat)
    assert repeat.calls == 1
    with pytest.raises(RuntimeError, match="something else"):
        stop_workers(Iterator(RuntimeError("something else")))
    stop_workers(object())  # the in-process decoder has no workers
