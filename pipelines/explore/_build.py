"""One explorer page from a cache: map, neighbours, thumbnails, page (see the package)."""

from __future__ import annotations

import os
import time

from featx.pipelines.explore._data import NEIGHBOURS, page_data
from featx.pipelines.explore._map import DEFAULT_MAP, layout_2d, resolve_method
from featx.pipelines.explore._page import write_page
from featx.pipelines.explore._sprites import COLUMNS, THUMB_PX, image_files, sprite_sheets


def build_explorer(data, layer: str, out: str, *, root: str = "", findings: dict | None = None,
                   predictions: dict | None = None, outlier_scores=None, map_method: str = DEFAULT_MAP,
                   thumbs: str = "auto", px: int = THUMB_PX, k: int = NEIGHBOURS, seed: int = 0, title: str = "",
                   xy=None, progress: bool = True, say=print) -> dict:
    """Write the explorer of ``data`` (:class:`featx.extract.CacheData`, ``layer`` one of its
    layers) to ``out``; ``root`` is the folder its relative paths are under. ``xy`` gives the
    map instead of computing it. Returns what was written and how long each step took."""
    t0 = time.perf_counter()
    X = data.features[layer]
    map_method = resolve_method(map_method, len(X)) if xy is None else map_method
    if xy is None:
        say(f"  mapping {len(X)} rows of {layer} ({map_method})")
        xy = layout_2d(X, map_method, seed=seed)
    t_map = time.perf_counter() - t0
    doc = page_data(data, layer, xy, root=root, findings=findings, predictions=predictions,
                    outlier_scores=outlier_scores, k=k, title=title or os.path.basename(data.path), map_method=map_method)
    t_nn = time.perf_counter() - t0 - t_map
    sheets, decoded = (None, 0)
    if thumbs != "none" and len(data.paths):
        sheets, decoded = sprite_sheets(image_files(data.paths, root), px=px, progress=progress)
    t_thumbs = time.perf_counter() - t0 - t_map - t_nn
    info = write_page(out, doc, sheets, px=px, columns=COLUMNS, thumbs=thumbs)
    return {**info, "rows": len(data.paths), "thumbnails": decoded, "map_s": round(t_map, 2), "neighbours_s": round(t_nn, 2),
            "thumbs_s": round(t_thumbs, 2), "map": map_method, "total_s": round(time.perf_counter() - t0, 2), "path": out}
