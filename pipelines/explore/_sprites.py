"""The explorer's thumbnails: every image decoded through extract's one decode path
(:func:`featx.extract.decode_rgb`: EXIF orientation, any mode to RGB, JPEG draft decoding, the
pixel limit), shrunk into a ``px`` x ``px`` cell and packed ``COLUMNS`` x ``COLUMNS`` to a JPEG
sprite sheet. An unreadable image leaves its cell grey."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor

COLUMNS = 16
THUMB_PX = 96


def _cell(path: str, px: int):
    from featx.extract.images import decode_rgb

    try:
        with open(path, "rb") as fh:
            img = decode_rgb(fh.read(), draft_size=px * 2)
    except (OSError, ValueError):
        return None
    img.thumbnail((px, px))
    return img


def sprite_sheets(files, *, px: int = THUMB_PX, quality: int = 75, workers: int = 4, progress: bool = True):
    """``(sheets, ok)``: JPEG bytes of each sheet (``COLUMNS**2`` cells, row-major, file ``i`` in
    sheet ``i // COLUMNS**2``) and how many images were decoded."""
    from PIL import Image

    from featx.common.progress import progress_bar

    files = list(files)
    per = COLUMNS * COLUMNS
    sheets, ok = [], 0
    bar = progress_bar(len(files), "thumbnails", progress, "img")
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(files), per):
            chunk = files[start:start + per]
            rows = (len(chunk) + COLUMNS - 1) // COLUMNS
            sheet = Image.new("RGB", (COLUMNS * px, rows * px), (235, 235, 235))
            for j, img in enumerate(pool.map(lambda f: _cell(f, px), chunk)):
                bar.update(1)
                if img is None:
                    continue
                ok += 1
                cx, cy = (j % COLUMNS) * px, (j // COLUMNS) * px
                sheet.paste(img, (cx + (px - img.width) // 2, cy + (px - img.height) // 2))
            buf = io.BytesIO()
            sheet.save(buf, format="JPEG", quality=quality, optimize=True)
            sheets.append(buf.getvalue())
    bar.close()
    return sheets, ok


def image_files(paths, root: str) -> list[str]:
    """The file of each cache path (under the cache's source folder when it is relative)."""
    return [p if os.path.isabs(p) or not root else os.path.join(root, p) for p in paths]
