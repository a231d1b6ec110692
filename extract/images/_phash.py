"""Perceptual hashes of image files, for the audit's near-duplicate search: the 64-bit DCT hash
(the signs of the 8x8 lowest frequencies of a 32x32 grey thumbnail against their median) of each
image and of its mirror image, so re-encoded, resized, slightly cropped and mirrored copies of a
photo have hashes a few bits apart. Reads the files as they are (no features, no network)."""

from __future__ import annotations

import os

import numpy as np

from featx.extract.images._images import DEFAULT_MAX_PIXELS, decode_rgb, read_bytes

HASH_SIZE = 8
_THUMB = 32


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_D = _dct_matrix(_THUMB)


def _bits(grey: np.ndarray) -> np.ndarray:
    low = (_D @ grey @ _D.T)[:HASH_SIZE, :HASH_SIZE].ravel()
    return low[1:] > np.median(low[1:])  # the DC term only says how bright the image is


def phash_image(img) -> tuple[np.ndarray, np.ndarray]:
    """(hash, mirrored hash) of a PIL image, each 63 booleans."""
    from PIL import Image

    grey = np.asarray(img.convert("L").resize((_THUMB, _THUMB), Image.BILINEAR), dtype=np.float64)
    return _bits(grey), _bits(grey[:, ::-1])


def phash_files(paths, root: str = "", *, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Hashes of image files (``root`` joined to each path): ``(hashes, mirrored, ok)`` with
    ``hashes``/``mirrored`` (n, 63) booleans and ``ok`` False where a file could not be read
    (its hash rows are all False; the audit then compares it by features only)."""
    hashes, mirrored, ok, _ = scan_files(paths, root, max_pixels=max_pixels, stats=False)
    return hashes, mirrored, ok


def scan_files(paths, root: str = "", *, max_pixels: int = DEFAULT_MAX_PIXELS, stats: bool = True,
               progress: bool = False):
    """One decode per image file for the audit: ``(hashes, mirrored, ok, stats)`` as
    :func:`phash_files`, with ``stats`` the (n, len(STAT_NAMES)) pixel statistics of
    ``featx.extract.images._pixstats`` from the same pixels (NaN rows where unreadable; None
    with ``stats=False``)."""
    import io

    from PIL import Image

    from featx.common.progress import progress_bar
    from featx.extract.images._pixstats import STAT_NAMES, pixel_stats

    n = len(paths)
    hashes = np.zeros((n, HASH_SIZE * HASH_SIZE - 1), dtype=bool)
    mirrored = np.zeros_like(hashes)
    ok = np.zeros(n, dtype=bool)
    table = np.full((n, len(STAT_NAMES)), np.nan) if stats else None
    bar = progress_bar(n, "reading images", enabled=progress, unit="img")
    for i, p in enumerate(paths):
        bar.update(1)
        try:
            data = read_bytes(os.path.join(root, p))
            img = decode_rgb(data, max_pixels=max_pixels, draft_size=64)
            if stats:
                with Image.open(io.BytesIO(data)) as head:  # the header only: the file's own size
                    size = head.size
        except Exception:  # noqa: BLE001 - a moved or damaged file: no hash for this row
            continue
        hashes[i], mirrored[i] = phash_image(img)
        if stats:
            table[i] = pixel_stats(img, size)
        ok[i] = True
    bar.close()
    return hashes, mirrored, ok, table
