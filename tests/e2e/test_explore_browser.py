"""The explorer in a real headless Chromium, driven over the DevTools protocol
(helpers.cdp): hymenoptera (audit run by the command, thumbnails inlined), flowers (extracted
here, thumbnails in a sibling folder) and a 50k-point synthetic cache (PCA map: UMAP at 50k
rows takes over a minute, see BENCHMARKS.md). Checks: drawn points, hover shows the path of a
known point (also after zooming), filters give the right counts, box selection exports the
selected paths as a manifest that featx's reader reads, and every resource is local."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers.cdp import Browser
from featx.extract import CacheData, open_source, read_cache

SHOTS = os.environ.get("FEATX_EXPLORE_SHOTS")  # a folder to keep the screenshots in


def featx(*args):
    done = subprocess.run([sys.executable, "-m", "featx.pipelines", *map(str, args)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def hover_path(page, row):
    x, y = page.js(f"featxExplorer.toScreen({row})")
    page.mouse("mouseMoved", x, y)
    return page.wait_for("(document.querySelector('#hover:not([hidden]) .path') || {}).textContent")


def screen_xy(page, n):
    return np.array(page.js(f"Array.from({{length: {n}}}, (_, i) => featxExplorer.toScreen(i))"))


def isolated(page, n, px: float = 12.0):
    """Rows inside the canvas whose nearest other point is over ``px`` pixels away, spread over the rows."""
    from sklearn.neighbors import NearestNeighbors

    xy = screen_xy(page, n)
    r = page.js("(() => { const r = document.getElementById('map').getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })()")
    d = NearestNeighbors(n_neighbors=2).fit(xy).kneighbors(xy)[0][:, 1]
    ok = (d > px) & (xy[:, 0] > r[0] + 20) & (xy[:, 0] < r[2] - 360) & (xy[:, 1] > r[1] + 20) & (xy[:, 1] < r[3] - 200)
    rows = np.flatnonzero(ok)
    assert len(rows), "no isolated point on the map"
    return rows[np.linspace(0, len(rows) - 1, min(3, len(rows))).astype(int)].tolist()


def check_local(page):
    names = page.js("performance.getEntriesByType('resource').map(e => e.name)")
    assert all(n.split(":", 1)[0] in ("file", "blob", "data") for n in names), names
    return names


def check_page(page, data, tmp_path, name):
    n = len(data.paths)
    assert int(page.wait_for("document.body.dataset.points")) == n
    known = isolated(page, n)  # a point with no other within 12 px: hovering it can only mean it
    for row in known[:3]:
        assert hover_path(page, row) == data.paths[row]
    x, y = page.js(f"featxExplorer.toScreen({known[0]})")
    for _ in range(3):  # zoom in around a point: the transform changes, hit-testing follows
        page.send("Input.dispatchMouseEvent", type="mouseWheel", x=x + 30, y=y + 20, deltaX=0, deltaY=-300)
    time.sleep(0.2)
    assert page.js("featxExplorer.view.s") > 2 * page.js("Math.min(innerWidth - 420, innerHeight) - 48")
    row = isolated(page, n)[0]
    assert hover_path(page, row) == data.paths[row]
    page.js("document.getElementById('reset').click()")
    c = 1 if len(data.class_names) > 1 else 0
    page.js(f"{{ const f = document.getElementById('f-class'); f.value = '{c}'; f.onchange() }}")
    assert int(page.js("document.body.dataset.shown")) == int((data.labels == c).sum())
    assert page.wait_for(f"document.body.dataset.points === '{int((data.labels == c).sum())}'")
    page.js("{ const f = document.getElementById('f-class'); f.value = ''; f.onchange() }")
    word = data.paths[0].split("/")[0]
    page.js(f"{{ const s = document.getElementById('f-search'); s.value = {word!r}; s.oninput() }}")
    assert int(page.js("document.body.dataset.shown")) == sum(word.lower() in p.lower() for p in data.paths)
    page.js("{ const s = document.getElementById('f-search'); s.value = ''; s.oninput() }")
    # box selection over the middle of the map; the export lists exactly the rows inside it
    box = page.js("(() => { const r = document.getElementById('map').getBoundingClientRect();"
                  " return [r.left + r.width * 0.3, r.top + r.height * 0.3, r.left + r.width * 0.7, r.top + r.height * 0.7]"
                  ".map(Math.round); })()")  # whole pixels: a mouse event's clientX is an integer
    page.drag(box[:2], box[2:], modifiers=8)
    xy = screen_xy(page, n)
    inside = np.flatnonzero((xy[:, 0] >= box[0]) & (xy[:, 0] <= box[2]) & (xy[:, 1] >= box[1]) & (xy[:, 1] <= box[3])).tolist()
    chosen = page.js("featxExplorer.selection()")
    assert chosen and int(page.js("document.body.dataset.selected")) == len(chosen)
    assert chosen == inside
    assert page.js("document.getElementById('export').href").startswith("blob:")
    csv_text = page.js("fetch(document.getElementById('export').href).then(r => r.text())")
    manifest = tmp_path / f"{name}-selection.csv"
    manifest.write_text(csv_text, encoding="utf-8")
    return chosen, manifest


def shot(page, tmp_path, name):
    path = page.screenshot(os.path.join(SHOTS or str(tmp_path), f"explore-{name}.png"))
    assert os.path.getsize(path) > 10_000


def check_manifest(manifest, data, chosen, root):
    table = open_source(str(manifest))  # featx extract's and cv's reader
    assert table.paths == [os.path.join(root, data.paths[i]) for i in chosen]
    assert [table.class_names[k] for k in table.labels] == [data.class_names[data.labels[i]] for i in chosen]


def test_hymenoptera_page(hymenoptera_cache, shared_data, tmp_path):
    out = tmp_path / "hym.html"
    featx("explore", hymenoptera_cache, "-o", out)  # audit and t-SNE map run here, thumbnails inlined
    data = read_cache(hymenoptera_cache)
    root = shared_data("hymenoptera")
    assert not os.path.exists(tmp_path / "hym_files")
    with Browser(tmp_path) as b:
        page = b.open(out.as_uri())
        chosen, manifest = check_page(page, data, tmp_path, "hymenoptera")
        check_manifest(manifest, data, chosen, root)
        assert page.js("featxExplorer.modes").count("finding") == 1
        issues = page.js("featxExplorer.data.issue.filter(Boolean).length")
        page.js("{ const f = document.getElementById('f-issue'); f.checked = true; f.onchange() }")
        assert int(page.js("document.body.dataset.shown")) == issues
        page.js("{ const f = document.getElementById('f-issue'); f.checked = false; f.onchange() }")
        wrong = page.js("featxExplorer.data.pred.filter((p, i) => p >= 0 && p !== featxExplorer.data.label[i]).length")
        page.js("{ const f = document.getElementById('f-wrong'); f.checked = true; f.onchange() }")
        assert int(page.js("document.body.dataset.shown")) == wrong > 0
        page.js("{ const f = document.getElementById('f-wrong'); f.checked = false; f.onchange() }")
        has_image = page.js("featxExplorer.data.image_issue !== null")  # the audit's image_issues key, when present
        assert page.js("document.getElementById('l-image').hidden") == (not has_image)
        if has_image:
            flagged = page.js("featxExplorer.data.image_issue.filter(Boolean).length")
            page.js("{ const f = document.getElementById('f-image'); f.checked = true; f.onchange() }")
            assert int(page.js("document.body.dataset.shown")) == flagged
            page.js("{ const f = document.getElementById('f-image'); f.checked = false; f.onchange() }")
        x, y = page.js(f"featxExplorer.toScreen({chosen[0]})")
        page.mouse("mousePressed", x, y, button="left", clicks=1)
        page.mouse("mouseReleased", x, y, button="left", clicks=1)
        assert page.wait_for("document.querySelectorAll('#detail .nb').length") == 8
        page.js("featxExplorer.setColour('finding')")
        check_local(page)
        page.mouse("mouseMoved", x, y)
        shot(page, tmp_path, "hymenoptera")


@pytest.fixture(scope="module")
def flowers_cache(shared_data, tmp_path_factory):
    from featx.extract import extract

    out = str(tmp_path_factory.mktemp("flowers") / "flowers.h5")
    extract(shared_data("flowers"), out, progress=False)
    return out


def test_flowers_page_with_thumbnail_folder(flowers_cache, shared_data, tmp_path):
    out = tmp_path / "flowers.html"
    featx("explore", flowers_cache, "-o", out, "--no-audit", "--thumbs", "folder")
    data = read_cache(flowers_cache)
    assert len(os.listdir(tmp_path / "flowers_files")) == -(-len(data.paths) // 256)
    with Browser(tmp_path) as b:
        page = b.open(out.as_uri())
        chosen, manifest = check_page(page, data, tmp_path, "flowers")
        check_manifest(manifest, data, chosen, shared_data("flowers"))
        assert page.js("document.getElementById('l-issue').hidden")  # no audit: no findings filters
        page.js("featxExplorer.select(featxExplorer.selection())")
        page.wait_for("document.querySelectorAll('#grid .cell').length")
        time.sleep(0.5)
        check_local(page)
        width = page.js("new Promise(r => { const im = new Image(); im.onload = () => r(im.naturalWidth);"
                        " im.onerror = () => r(-1); im.src = featxExplorer.data.thumbs.sheets[0]; })")
        assert width == 16 * 96  # the sheet beside the page loads (a relative file: URL)
        shot(page, tmp_path, "flowers")


def test_50k_synthetic_points(tmp_path):
    from featx.pipelines.explore._build import build_explorer

    n, classes = 50_000, 10
    rng = np.random.default_rng(0)
    y = rng.integers(0, classes, n)
    X = (rng.normal(size=(classes, 32)) * 3)[y] + rng.normal(size=(n, 32))
    paths = [f"class{c}/img{i:05d}.jpg" for i, c in enumerate(y)]
    data = CacheData(path="synthetic.h5", features={"f": X.astype(np.float32)}, labels=y, class_names=[f"class{c}" for c in range(classes)],
                     paths=paths, groups=None, splits=[""] * n, hashes=np.array([""] * n), rows=np.arange(n), meta={})
    out = str(tmp_path / "big.html")
    info = build_explorer(data, "f", out, root="/data", map_method="pca", thumbs="none", progress=False, say=lambda *_: None)
    assert info["thumbs"] == "none" and info["rows"] == n
    with Browser(tmp_path) as b:
        t = time.perf_counter()
        page = b.open("file://" + out)
        assert int(page.wait_for("document.body.dataset.points")) == n
        print(f"50k page: {info['html_bytes'] / 1e6:.1f} MB, loaded and drawn in {time.perf_counter() - t:.2f} s")
        chosen, manifest = check_page(page, data, tmp_path, "50k")
        table = open_source(str(manifest))
        assert table.paths == [os.path.join("/data", paths[i]) for i in chosen]
        # lasso (alt-drag) along a triangle: the rows inside the polygon the mouse drew
        from matplotlib.path import Path

        r = page.js("(() => { const r = document.getElementById('map').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()")
        tri = [(round(r[0] + r[2] * fx), round(r[1] + r[3] * fy)) for fx, fy in ((0.2, 0.2), (0.8, 0.3), (0.4, 0.8))]
        page.mouse("mousePressed", *tri[0], button="left", modifiers=1, clicks=1)
        drawn = [tri[0]]
        for a_, b_ in zip(tri, tri[1:] + tri[:1]):
            for t in np.linspace(0, 1, 8)[1:]:
                pt = (round(a_[0] + t * (b_[0] - a_[0])), round(a_[1] + t * (b_[1] - a_[1])))
                page.mouse("mouseMoved", *pt, button="left", modifiers=1)
                drawn.append(pt)
        page.mouse("mouseReleased", *tri[0], button="left", modifiers=1, clicks=1)
        inside = np.flatnonzero(Path(drawn[1:] if drawn[0] == drawn[-1] else drawn).contains_points(screen_xy(page, n)))
        lasso = page.js("featxExplorer.selection()")
        assert len(lasso) > 1000 and abs(len(lasso) - len(inside)) <= len(inside) // 500  # edge points may differ
        assert len(set(lasso) ^ set(inside.tolist())) <= len(inside) // 500
        shot(page, tmp_path, "50k")
