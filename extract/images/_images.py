"""Decoding one image file robustly: bytes -> hash -> PIL RGB, or a failure reason.

Any image that cannot be turned into RGB pixels (corrupt, truncated, zero bytes, not an image,
over the pixel limit) becomes a reason string; the caller records it and moves on.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from featx.common.messages import first_line

DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb threshold (about 9459 x 9459)


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_rgb(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, draft_size: int | None = None) -> Image.Image:
    """Decode ``data`` to an RGB image. Raises ``ValueError`` with a readable reason on failure.

    EXIF orientation is applied; grayscale, palette, CMYK, 16-bit and alpha images become RGB
    (transparency composited on white). ``draft_size`` lets the JPEG decoder scale down by a
    power of two while keeping both sides at least that large (Pillow's draft mode).
    """
    if not data:
        raise ValueError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise ValueError(f"image has {w}x{h} = {w * h} pixels, over the limit of {max_pixels} (raise --max-pixels to allow it)")
            if w < 1 or h < 1:
                raise ValueError(f"image has no pixels ({w}x{h})")
            if draft_size and img.format == "JPEG":
                img.draft("RGB", (draft_size, draft_size))
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_rgb(img)
    except ValueError:
        raise
    except UnidentifiedImageError:
        raise ValueError("not a recognised image format (or a damaged header)") from None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"decompression bomb refused: {exc}") from None
    except Exception as exc:  # UnidentifiedImageError, OSError (truncated), SyntaxError, struct.error...
        raise ValueError(f"cannot decode image: {first_line(exc, 200)}") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr8 = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8).convert("RGB")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(np.nan_to_num(scaled).astype(np.uint8)).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def file_stat(path: str) -> tuple[int, int]:
    """(size in bytes, modification time in ns), or (-1, -1) when the file is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return int(st.st_size), int(st.st_mtime_ns)
