"""Messy manifests end to end: a missing file, an unreadable file and a non-ASCII name are
per-row failures or rows, never a crash; CRLF, a BOM and quoted commas parse; the rerun after the
missing file appears extracts only that row."""

from __future__ import annotations

import os

import numpy as np

from featx.extract import extract, read_cache
from helpers.testdata import make_image

FAST = dict(model="efficientnet_lite0", weights="none", progress=False, workers=0, batch_size=4, layers="blocks.1")


def test_missing_and_unreadable_rows_are_recorded_and_the_rest_extracted(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for name in ("a.png", "b.jpg", "café, ü.png"):
        make_image((200, 30, 30), seed=len(name)).save(imgs / name)
    (imgs / "empty.png").write_bytes(b"")
    lines = ["path,label", "imgs/a.png,red", "imgs/b.jpg,blue", '"imgs/café, ü.png",red',
             "imgs/missing.png,blue", "imgs/empty.png,red"]
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    out = str(tmp_path / "c.h5")
    s = extract(str(manifest), out, **FAST)
    assert s.rows == 5 and s.extracted == 3 and s.failed == 2 and s.complete
    data = read_cache(out)
    reasons = dict(data.failures)
    assert set(reasons) == {"imgs/missing.png", "imgs/empty.png"}
    assert "cannot read file" in reasons["imgs/missing.png"] and reasons["imgs/empty.png"]
    assert "imgs/café, ü.png" in data.paths
    assert np.isfinite(data.features["blocks.1"]).all() and len(data.features["blocks.1"]) == 3
    # the missing file appears: the rerun extracts it alone and keeps the others bitwise
    make_image((30, 40, 200), seed=9).save(imgs / "missing.png")
    again = extract(str(manifest), out, **FAST)
    assert again.extracted == 1 and again.failed == 1
    after = read_cache(out)
    assert "imgs/missing.png" in after.paths
    for i, p in enumerate(data.paths):
        np.testing.assert_array_equal(after.features["blocks.1"][after.paths.index(p)], data.features["blocks.1"][i])
