"""Small pictures of image files for reports: one file decoded through the extraction's decode
path (EXIF orientation, any mode to RGB, JPEG draft decoding, the pixel limit), shrunk to fit a
square and encoded as JPEG. An unreadable file gives None, so a caller can list it by path."""

from __future__ import annotations

import io

from featx.extract.images._images import DEFAULT_MAX_PIXELS, decode_rgb, read_bytes


def thumbnail_jpeg(path: str, px: int = 96, *, quality: int = 70, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes | None:
    """JPEG bytes of the image at ``path`` shrunk to at most ``px`` x ``px`` (aspect kept), or
    None when the file is missing or cannot be decoded."""
    try:
        img = decode_rgb(read_bytes(path), max_pixels=max_pixels, draft_size=px * 2)
    except (OSError, ValueError):
        return None
    img.thumbnail((px, px))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
