"""Writing the explorer page: ``explore.html`` (skeleton, ``explore.css`` and ``explore.js``
inlined, the data as one JSON script element) and its thumbnails, inlined as data URIs for a
small set (one file to mail) or as a sibling folder ``NAME_files/`` of sprite sheets. The page
makes no network request: everything it loads is itself, its folder or a ``blob:``."""

from __future__ import annotations

import base64
import json
import os
import shutil
from importlib.resources import files
from string import Template

from featx.common.files import write_text

THUMB_MODES = ("auto", "inline", "folder", "none")
INLINE_MAX = 6_000_000  # bytes of sprite sheets inlined by 'auto'; above, a sibling folder


def _asset(name: str) -> str:
    return files("featx.pipelines.explore").joinpath(name).read_text(encoding="utf-8")


def files_folder(out: str) -> str:
    """The sibling folder of ``out``'s sprite sheets: ``explore.html`` -> ``explore_files``."""
    return os.path.splitext(out)[0] + "_files"


def write_page(out: str, data: dict, sheets: list[bytes] | None, *, px: int, columns: int, thumbs: str = "auto") -> dict:
    """Write the page to ``out``; returns ``{"html_bytes", "sheet_bytes", "thumbs"}`` (the mode used)."""
    folder = files_folder(out)
    sheet_bytes = sum(len(s) for s in sheets or [])
    mode = thumbs
    if not sheets:
        mode = "none"
    elif mode == "auto":
        mode = "inline" if sheet_bytes <= INLINE_MAX else "folder"
    if os.path.isdir(folder):  # sheets of an earlier page of this name
        shutil.rmtree(folder)
    urls = []
    if mode == "inline":
        urls = ["data:image/jpeg;base64," + base64.b64encode(s).decode("ascii") for s in sheets]
    elif mode == "folder":
        os.makedirs(folder)
        for i, s in enumerate(sheets):
            name = f"sheet-{i:04d}.jpg"
            with open(os.path.join(folder, name), "wb") as fh:
                fh.write(s)
            urls.append(f"{os.path.basename(folder)}/{name}")
    doc = dict(data, thumbs={"px": px, "cols": columns, "sheets": urls} if urls else None)
    blob = json.dumps(doc, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    page = Template(_asset("explore.html")).substitute(
        title=_escape(data.get("title") or "featx explore"), css=_asset("explore.css"), js=_asset("explore.js"), data=blob)
    write_text(out, page)
    return {"html_bytes": os.path.getsize(out), "sheet_bytes": sheet_bytes if mode == "folder" else 0, "thumbs": mode}


def _escape(s: str) -> str:
    import html

    return html.escape(str(s), quote=True)
