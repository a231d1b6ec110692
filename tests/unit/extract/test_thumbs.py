"""featx.extract.thumbnail_jpeg: small JPEGs of image files for reports, None for what cannot be read."""

from __future__ import annotations

import io
import os

from PIL import Image

from featx.extract import thumbnail_jpeg

def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and img.mode == "RGB"
    return img


def test_thumbnail_keeps_the_aspect_and_fits_the_square(tmp_path):
    wide = tmp_path / "wide.png"
    Image.new("RGBA", (400, 200), (10, 200, 30, 128)).save(wide)
    img = _open(thumbnail_jpeg(str(wide), 96))
    assert img.size == (96, 48)
    r, g, b = img.getpixel((48, 24))
    assert g > 150 and r > 100 and b > 100  # transparency composited on white, as extraction decodes it
    assert _open(thumbnail_jpeg(str(wide), 40)).size == (40, 20)


def test_thumbnail_of_a_real_photo_is_small(shared_data):
    ants = os.path.join(shared_data("hymenoptera"), "train", "ants")
    name = sorted(os.listdir(ants))[0]
    data = thumbnail_jpeg(os.path.join(ants, name))
    img = _open(data)
    assert max(img.size) == 96 and len(data) < 10_000


def test_unreadable_files_give_none(tmp_path):
    (tmp_path / "garbage.jpg").write_bytes(b"not an image at all")
    (tmp_path / "empty.png").write_bytes(b"")
    assert thumbnail_jpeg(str(tmp_path / "missing.png")) is None
    assert thumbnail_jpeg(str(tmp_path / "garbage.jpg")) is None
    assert thumbnail_jpeg(str(tmp_path / "empty.png")) is None
    assert thumbnail_jpeg(str(tmp_path)) is None  # a folder
