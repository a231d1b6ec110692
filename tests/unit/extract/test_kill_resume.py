"""A real ``featx extract`` subprocess killed with SIGKILL mid-job, then rerun: the finished
cache equals an uninterrupted run's, row for row and value for value."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from featx_testdata import cache_done_rows, write_colour_dataset
from featx.extract import read_cache

ARGS = ["--weights", "none", "--batch-size", "4", "--workers", "1", "--layers", "blocks.3,penultimate"]


def _featx(*args):
    return [sys.executable, "-m", "featx.pipelines", *args]


def test_sigkill_then_resume_equals_clean_run(tmp_path):
    src = write_colour_dataset(tmp_path / "imgs", per_class=30, size=(48, 40))
    clean = str(tmp_path / "clean.h5")  # the same command uninterrupted (same process setup)
    done = subprocess.run(_featx("extract", src, "-o", clean, *ARGS), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = str(tmp_path / "killed.h5")
    kills = 0
    for _attempt in range(3):
        proc = subprocess.Popen(_featx("extract", src, "-o", out, *ARGS), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        start = cache_done_rows(out)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and cache_done_rows(out) < start + 12:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        if cache_done_rows(out) >= 90:
            break
    assert kills >= 1, "the job finished before it could be killed"
    assert 0 < cache_done_rows(out) < 90 or kills >= 1
    rerun = subprocess.run(_featx("extract", src, "-o", out, *ARGS), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "reused" in rerun.stdout and "complete" in rerun.stdout
    a, b = read_cache(clean), read_cache(out)
    assert a.paths == b.paths and np.array_equal(a.labels, b.labels)
    assert list(a.hashes) == list(b.hashes)
    for layer in a.features:
        np.testing.assert_array_equal(a.features[layer], b.features[layer])
    leftovers = [n for n in os.listdir(tmp_path) if ".tmp-" in n]
    assert not leftovers
