"""A DataLoader worker killed mid-job (as the out-of-memory killer would) stops the job with one
clear line and exit 2, never a traceback; the finished rows are kept and the rerun completes the
cache with the same values as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from featx.extract import read_cache
from helpers.testdata import cache_done_rows, child_pids, write_colour_dataset

ARGS = ["--weights", "none", "--batch-size", "4", "--workers", "2", "--layers", "blocks.2"]


def _featx(*args):
    return [sys.executable, "-m", "featx.pipelines", *args]


def _kill_a_worker_once(args, ready) -> str:
    """Run ``featx ARGS``; once ``ready()`` holds and it has a worker, SIGKILL that worker. The
    job must then stop with exit 2 and exactly one ``error:`` line (returned), no traceback."""
    proc = subprocess.Popen(_featx(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    victims = []
    while time.time() < deadline and proc.poll() is None:
        if ready():
            victims = child_pids(proc.pid)
            if victims:
                break
        time.sleep(0.05)
    assert victims, "no worker to kill: the job ended or never started its workers"
    os.kill(victims[0], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 2 and "Traceback" not in stderr, (proc.returncode, stderr[-2000:])
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "worker died" in errors[0], stderr[-2000:]
    return errors[0]


def test_killed_worker_stops_the_job_cleanly_and_the_rerun_resumes(tmp_path):
    src = write_colour_dataset(tmp_path / "imgs", per_class=40, size=(48, 40))
    out = str(tmp_path / "c.h5")
    error = _kill_a_worker_once(["extract", src, "-o", out, *ARGS], lambda: cache_done_rows(out) >= 8)
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
    # ready once an epoch has finished and its state is on disk
    error = _kill_a_worker_once(args, lambda: os.path.exists(out + ".resume"))
    assert "is kept in" in error
    assert os.path.exists(out + ".resume") and not os.path.exists(out)
    rerun = subprocess.run(_featx(*args), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming" in rerun.stderr and os.path.exists(out) and not os.path.exists(out + ".resume")
