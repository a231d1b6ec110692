"""The explorer page's weight per 1,000 images (thumbnail sprite sheets, 96 px cells, JPEG q75)
on real caches, and the load time of a 50k-point page in headless Chromium (navigation to
``document.body.dataset.points`` set, i.e. parsed, laid out and drawn).

    .venv/bin/python benchmarks/bench_explore_page.py --caches /tmp/explore_bench/*.h5 --points 50000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from _common import header  # noqa: E402


def main(argv=None) -> int:
    from featx.extract import CacheData, cache_info, read_cache
    from featx.pipelines.explore._build import build_explorer

    ap = argparse.ArgumentParser()
    ap.add_argument("--caches", nargs="*", default=[])
    ap.add_argument("--points", type=int, default=50_000)
    ap.add_argument("--loads", type=int, default=3)
    args = ap.parse_args(argv)
    header("explore page")
    quiet = dict(progress=False, say=lambda *_: None)
    with tempfile.TemporaryDirectory() as tmp:
        for cache in args.caches:
            data = read_cache(cache)
            root = (cache_info(cache).get("source") or {}).get("root") or ""
            layer = list(data.features)[-1]
            none = build_explorer(data, layer, os.path.join(tmp, "none.html"), root=root, map_method="pca", thumbs="none", **quiet)
            full = build_explorer(data, layer, os.path.join(tmp, "folder.html"), root=root, map_method="pca", thumbs="folder", **quiet)
            inline = build_explorer(data, layer, os.path.join(tmp, "inline.html"), root=root, map_method="pca", thumbs="inline", **quiet)
            n = len(data.paths)
            print(f"result set={os.path.basename(cache)} rows={n} html_no_thumbs_kB={none['html_bytes'] / 1e3:.0f} "
                  f"sheets_kB={full['sheet_bytes'] / 1e3:.0f} sheets_kB_per_1000={full['sheet_bytes'] / n:.0f} "
                  f"inline_html_kB={inline['html_bytes'] / 1e3:.0f} inline_kB_per_1000={inline['html_bytes'] / n:.0f} "
                  f"thumbs_s={full['thumbs_s']:.1f}", flush=True)
        n, classes = args.points, 10
        rng = np.random.default_rng(0)
        y = rng.integers(0, classes, n)
        X = ((rng.normal(size=(classes, 32)) * 3)[y] + rng.normal(size=(n, 32))).astype(np.float32)
        data = CacheData(path="synthetic.h5", features={"f": X}, labels=y, class_names=[f"c{c}" for c in range(classes)],
                         paths=[f"c{c}/img{i:06d}.jpg" for i, c in enumerate(y)], groups=None, splits=[""] * n,
                         hashes=np.array([""] * n), rows=np.arange(n), meta={})
        out = os.path.join(tmp, "big.html")
        info = build_explorer(data, "f", out, root="/data", map_method="pca", thumbs="none", **quiet)
        from helpers.cdp import Browser

        times = []
        with Browser(tmp) as b:
            for _ in range(args.loads):
                t = time.perf_counter()
                page = b.open("file://" + out)
                page.wait_for(f"document.body.dataset.points === '{n}'", 120)
                times.append(time.perf_counter() - t)
                frame = page.js("new Promise(r => { const t = performance.now(); featxExplorer.view.s *= 1.1;"
                                " window.dispatchEvent(new Event('resize')); requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now() - t))); })")
                page.ws.close()
        print(f"result set=synthetic rows={n} html_MB={info['html_bytes'] / 1e6:.1f} neighbours_s={info['neighbours_s']:.1f} "
              f"load_s_median={np.median(times):.2f} load_s_all={','.join(f'{t:.2f}' for t in times)} redraw_2frames_ms={frame:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
