"""A real ``featx extract`` subprocess killed with SIGKILL mid-job, then rerun: the finished
cache equals an uninterrupted run's, row for row and value for value. The kill lands at a planned
stop point (the job stops itself after the batch that takes it to 12 rows), never "soon enough"."""

import os
import signal
import subprocess
import sys

import numpy as np

from helpers.testdata import cache_done_rows, write_colour_dataset
from helpers.processes import PAUSED_FEATX, wait_stopped
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
    # the planned stop point: the job stops itself once the batch that takes it to 12 rows is written
    marker = str(tmp_path / "paused")
    env = dict(os.environ, FEATX_CHAOS_PAUSE=f"12:after:{marker}")
    proc = subprocess.Popen([sys.executable, PAUSED_FEATX, "extract", src, "-o", out, *ARGS], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_stopped(marker, pid=proc.pid, proc=proc, within=300)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert cache_done_rows(out) == 12  # batches of 4: the third batch took it to 12
    rerun = subprocess.run(_featx("extract", src, "-o", out, *ARGS), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.startswith("extracted 78 image(s), reused 12, 0 failed, in "), rerun.stdout
    assert rerun.stdout.rstrip().endswith(f"-> {out} [90 rows, complete]"), rerun.stdout
    a, b = read_cache(clean), read_cache(out)
    assert a.paths == b.paths and np.array_equal(a.labels, b.labels)
    assert list(a.hashes) == list(b.hashes)
    for layer in a.features:
        np.testing.assert_array_equal(a.features[layer], b.features[layer])
    leftovers = [n for n in os.listdir(tmp_path) if ".tmp-" in n]
    assert leftovers == []
