"""Damaged images through a whole job: a folder of truncated, bit-flipped and random-byte files
of every format goes through a real ``featx extract`` with its worker pool. Every file ends as a
feature row or a recorded one-line failure; the job never crashes, hangs or loses a worker.

The regular CI runs 240 files; ``make soak`` runs the slow variant (3,000 files)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from featx.extract import cache_info, read_cache

FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "TIFF": "tif", "WEBP": "webp", "BMP": "bmp"}


def _damaged(rng: np.random.Generator) -> tuple[bytes, str]:
    fmt = rng.choice(list(FORMATS))
    if rng.random() < 0.1:  # plain random bytes under an image name
        return rng.integers(0, 256, size=int(rng.integers(0, 4096)), dtype=np.uint8).tobytes(), FORMATS[fmt]
    w, h = (int(v) for v in rng.integers(1, 96, size=2))
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(buf, format=fmt)
    data = bytearray(buf.getvalue())
    action = rng.choice(["truncate", "flip", "both", "none"])
    if action in ("flip", "both"):
        for _ in range(int(rng.integers(1, 13))):
            data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
    if action in ("truncate", "both"):
        data = data[: int(rng.integers(0, len(data) + 1))]
    return bytes(data), FORMATS[fmt]


def _write_corpus(root: str, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        data, ext = _damaged(rng)
        cls = os.path.join(root, f"c{i % 2}")
        os.makedirs(cls, exist_ok=True)
        with open(os.path.join(cls, f"case_{i:05d}.{ext}"), "wb") as fh:
            fh.write(data)


def _fuzz_job(tmp_path, n: int, seed: int, timeout: int) -> None:
    src = str(tmp_path / "corpus")
    _write_corpus(src, n, seed)
    out = str(tmp_path / "c.h5")
    cmd = [sys.executable, "-m", "featx.pipelines", "extract", src, "-o", out, "--weights", "none",
           "--model", "timm:mobilenetv3_small_050", "--workers", "2", "--batch-size", "16", "--max-pixels", "20000"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    counts = cache_info(out)["counts"]
    assert counts["rows"] == n and counts["pending"] == 0
    data = read_cache(out)
    layer = next(iter(data.features))
    rows = len(data.paths)
    failed = dict(data.failures)
    assert rows + len(failed) == n, (rows, len(failed), n)  # every file is a row or a recorded failure
    assert all(reason and "\n" not in reason for reason in failed.values())
    assert np.isfinite(data.features[layer].astype(np.float32)).all()
    assert 0 < len(failed) < n and rows > 0  # the corpus really mixes both outcomes
    print(f"fuzz job: {n} damaged files -> {rows} feature rows, {len(failed)} recorded failures, exit 0")


def test_damaged_corpus_through_a_real_job(tmp_path):
    _fuzz_job(tmp_path, 240, seed=1, timeout=600)


@pytest.mark.slow
def test_damaged_corpus_through_a_real_job_soak(tmp_path):
    _fuzz_job(tmp_path, 3000, seed=2, timeout=3000)
