"""A job that hits a write error (simulated with RLIMIT_FSIZE in a subprocess, so writes past the
limit fail with EFBIG) stops with a clear message; the cache still opens, keeps every row flushed
before the error, and the job resumes once space is back."""

import os
import resource
import shutil
import signal
import subprocess
import sys

import h5py
import numpy as np

from helpers.testdata import make_image, write_colour_dataset
from featx.extract import extract, read_cache

ARGS = ["--weights", "none", "--workers", "0", "--batch-size", "4", "--dtype", "float32", "--layers", "blocks.3,penultimate"]


def _limited(limit_bytes):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() returns EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def _featx(args, limit=None):
    return subprocess.run([sys.executable, "-m", "featx.pipelines", *args], capture_output=True, text=True,
                          timeout=600, preexec_fn=_limited(limit) if limit else None)


def test_no_space_for_a_new_cache_is_a_clear_error(tmp_path):
    src = write_colour_dataset(tmp_path / "imgs", per_class=4)
    out = str(tmp_path / "c.h5")
    r = _featx(["extract", src, "-o", out, *ARGS], limit=20_000)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert "space" in r.stderr and "rerun" in r.stderr
    assert not os.path.exists(out) and not [n for n in os.listdir(tmp_path) if ".tmp-" in n]
    r = _featx(["extract", src, "-o", out, *ARGS])
    assert r.returncode == 0, r.stderr


def test_write_error_mid_job_keeps_finished_rows_and_resumes(tmp_path):
    src = write_colour_dataset(tmp_path / "imgs", per_class=20)
    clean = str(tmp_path / "clean.h5")
    extract(src, clean, weights="none", workers=0, batch_size=4, dtype="float32", layers="blocks.3,penultimate", progress=False)
    out = str(tmp_path / "c.h5")
    shutil.copy(clean, out)
    with h5py.File(out, "r+") as f:  # as a killed job leaves it: nothing done yet
        f["done"][:] = 0
        f.attrs["complete"] = False
        ds = f["features/global_pool"]
        assert ds.id.get_num_chunks() >= 2, ds.chunks
        offset = ds.id.get_chunk_info(1).byte_offset
        size = os.path.getsize(out)
    # writes into the second feature chunk fail: the first chunk's rows land, then EFBIG
    limit = int(offset)
    assert limit < size
    r = _featx(["extract", src, "-o", out, *ARGS], limit=limit)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "rerun" in r.stderr
    with h5py.File(out, "r") as f:
        done = f["done"][:].astype(bool)
    assert 0 < done.sum() < len(done)
    partial = read_cache(out, allow_incomplete=True)
    ref = read_cache(clean)
    for layer in ref.features:
        np.testing.assert_array_equal(partial.features[layer], ref.features[layer][partial.rows])
    r = _featx(["extract", src, "-o", out, *ARGS])
    assert r.returncode == 0, r.stderr
    final = read_cache(out)
    for layer in ref.features:
        np.testing.assert_array_equal(final.features[layer], ref.features[layer])
