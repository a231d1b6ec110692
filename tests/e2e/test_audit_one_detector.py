"""One near-duplicate detector: ``featx audit``, ``featx cv``'s default warning and
``--dedupe group`` find the same clusters on a cache with re-encoded (JPEG quality 60) and resized
(85%) copies of smooth photos, and a distinct photo is in none of them."""

import json
import os

import numpy as np
from PIL import Image

from featx.classify import make_splitter, straddling
from featx.extract import extract, read_cache
from featx.pipelines import load_feature_sets
from featx.pipelines.cli import main
from featx.pipelines.stages._dedupe import apply_dedupe, near_clusters


def _smooth(rng, tint) -> Image.Image:
    grid = np.clip(rng.integers(0, 220, size=(5, 5, 3)) + np.array(tint), 0, 255).astype(np.uint8)
    return Image.fromarray(grid).resize((120, 96), Image.BICUBIC)


def test_audit_and_cv_use_one_detector(tmp_path, capsys):
    rng = np.random.default_rng(3)
    src = tmp_path / "images"
    copies = []
    for cls, tint in {"warm": (40, 0, -30), "cool": (-30, 0, 40)}.items():
        os.makedirs(src / cls)
        for i in range(14):
            _smooth(rng, tint).save(src / cls / f"{cls}_{i:02d}.png")
        with Image.open(src / cls / f"{cls}_00.png") as im:
            im.convert("RGB").save(src / cls / f"jpeg_of_{cls}_00.jpg", quality=60)
        with Image.open(src / cls / f"{cls}_01.png") as im:
            im.resize((102, 82), Image.BILINEAR).save(src / cls / f"resized_of_{cls}_01.png")
        copies += [{f"{cls}/{cls}_00.png", f"{cls}/jpeg_of_{cls}_00.jpg"}, {f"{cls}/{cls}_01.png", f"{cls}/resized_of_{cls}_01.png"}]
    cache = str(tmp_path / "c.h5")
    extract(str(src), cache, weights="none", workers=0, layers=["global_pool"], progress=False)
    out = tmp_path / "a.json"
    assert main(["audit", cache, "--folds", "3", "--json", str(out)]) == 0
    audit_sets = sorted(sorted(c["paths"]) for c in json.loads(out.read_text())["near_duplicates"])
    assert audit_sets == sorted(sorted(c) for c in copies)  # all four copies, nothing else

    fsets = load_feature_sets([cache], ["global_pool"])
    near, phash = near_clusters(fsets[0])
    assert phash is not None
    paths = read_cache(cache).paths
    by_key = dict(zip(read_cache(cache).hashes.tolist(), paths))
    keys = fsets[0].keys.tolist()
    cv_sets = sorted(sorted(by_key.get(keys[r], keys[r]) for r in rows) for rows, _ in near)
    assert cv_sets == audit_sets

    # the default warning counts exactly the clusters that straddle its folds
    _, note = apply_dedupe(fsets, "warn", folds=3, repeats=1, seed=0)
    splits = make_splitter(fsets[0].y, fsets[0].groups, folds=3, seed=0)
    n = straddling([rows for rows, _ in near], splits)
    assert (note is None) == (n == 0)
    if n:
        assert note.startswith(f"{n} of 4 near-duplicate cluster(s) fall on both sides of a fold")
    grouped, note = apply_dedupe(fsets, "group", folds=3, repeats=1, seed=0)
    assert note == "dedupe group: 4 near-duplicate cluster(s) (features and image hashes) kept in one CV group each"
    for rows, _ in near:
        assert len(set(grouped[0].groups[rows].tolist())) == 1
