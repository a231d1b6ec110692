import io
import os

import numpy as np
import pytest
from PIL import Image

from featx.extract import decode_rgb


def test_odd_images_decode_and_broken_ones_fail_with_reasons(odd_images):
    root, expect = odd_images
    for name, ok in expect.items():
        data = open(os.path.join(root, name), "rb").read()
        if ok:
            img = decode_rgb(data)
            assert img.mode == "RGB", name
        else:
            with pytest.raises(ValueError) as err:
                decode_rgb(data)
            assert str(err.value) and "\n" not in str(err.value), name


def test_exif_orientation_is_applied(odd_images):
    root, _ = odd_images
    img = decode_rgb(open(os.path.join(root, "exif_rotated.jpg"), "rb").read())
    assert img.size == (20, 40)  # saved 40x20 with orientation 6 (rotate 90)


def test_alpha_is_composited_on_white_and_16_bit_is_scaled(odd_images):
    root, _ = odd_images
    buf = io.BytesIO()
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(buf, format="PNG")
    assert np.asarray(decode_rgb(buf.getvalue())).min() == 255
    deep = np.asarray(decode_rgb(open(os.path.join(root, "deep16.png"), "rb").read()))
    assert deep.max() >= 250 and deep.min() <= 5


def test_pixel_limit_refuses_bombs():
    buf = io.BytesIO()
    Image.new("L", (400, 300)).save(buf, format="PNG")
    with pytest.raises(ValueError, match="over the limit of 100000"):
        decode_rgb(buf.getvalue(), max_pixels=100_000)
    assert decode_rgb(buf.getvalue(), max_pixels=120_000).size == (400, 300)


def test_jpeg_draft_keeps_at_least_the_requested_size():
    buf = io.BytesIO()
    Image.new("RGB", (2000, 1200), (9, 9, 9)).save(buf, format="JPEG")
    img = decode_rgb(buf.getvalue(), draft_size=256)
    assert min(img.size) >= 256 and img.size[0] < 2000
