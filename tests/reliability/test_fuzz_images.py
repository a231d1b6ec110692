"""Property-based fuzzing of the image loading path: random bytes, truncated and bit-flipped
JPEG/PNG/GIF/TIFF/WebP. Every case ends as a valid uint8 tensor or a one-line failure reason —
never an exception escaping the loader, a hang, or a crash."""

import io
import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from featx.extract import Preprocessing
from featx.extract.images._loading import ImageRows

FORMATS = ["JPEG", "PNG", "GIF", "TIFF", "WEBP", "BMP"]
N_CASES = int(os.environ.get("FEATX_FUZZ_CASES", "300"))


def _encode(fmt: str, w: int, h: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


_TRANSFORM = Preprocessing(crop_size=32, resize_size=36).pil_transform()
_TRANSFORM(Image.new("RGB", (8, 8)))  # warm up imports so per-case timings mean something
HANG_SECONDS = 10.0


def _load(tmp_path, data: bytes):
    path = tmp_path / "case.img"
    path.write_bytes(data)
    rows = ImageRows([str(path)], _TRANSFORM, 4_000_000, 36)
    start = time.perf_counter()
    row, tensor, digest, reason = rows[0]
    assert time.perf_counter() - start < HANG_SECONDS, "the loader hung on this input"
    assert row == 0 and len(digest) == 64
    if tensor is None:
        assert reason and "\n" not in reason
    else:
        arr = np.asarray(tensor)  # workers ship HWC uint8 arrays (stacked channels_last per batch)
        assert reason == "" and arr.shape == (32, 32, 3) and arr.dtype == np.uint8
    return tensor is not None


@st.composite
def damaged_images(draw):
    fmt = draw(st.sampled_from(FORMATS))
    w = draw(st.integers(1, 64))
    h = draw(st.integers(1, 64))
    data = bytearray(_encode(fmt, w, h, draw(st.integers(0, 2**16))))
    action = draw(st.sampled_from(["truncate", "flip", "both", "none"]))
    if action in ("flip", "both"):
        for _ in range(draw(st.integers(1, 12))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
    if action in ("truncate", "both"):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=N_CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=damaged_images())
def test_damaged_images_never_crash_the_loader(tmp_path, data):
    _load(tmp_path, data)


@settings(max_examples=N_CASES // 3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=4096))
def test_random_bytes_are_recorded_failures(tmp_path, data):
    _load(tmp_path, data)


@pytest.mark.parametrize("size", [(1, 1), (4000, 3), (3, 4000), (1, 2000)])
def test_tiny_and_extreme_aspect_ratios_work(tmp_path, size):
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, format="PNG")
    assert _load(tmp_path, buf.getvalue())
