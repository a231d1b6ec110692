"""The audit's manifest round trip on real photos (issue 19): 40 hymenoptera JPEGs with an exact
copy, a copy filed under the other class, and near-copies (JPEG re-encoded, resized, mirrored,
cropped); featx audit --write-manifest, then featx extract and featx cv on the manifest: the
duplicate warnings that cv gave on the planted folder are gone, one file of the exact pair is kept,
both files of the cross-class pair are dropped, and each found near-copy shares its original's group."""

from __future__ import annotations

import csv
import os
import shutil

import numpy as np
from PIL import Image, ImageOps

from featx.extract import extract
from featx.pipelines.cli import main


def _plant(src_root: str, out) -> dict:
    truth = {"exact": None, "cross": None, "near": []}
    for cls in ("ants", "bees"):
        os.makedirs(out / cls)
        for name in sorted(os.listdir(os.path.join(src_root, "train", cls)))[:20]:
            shutil.copyfile(os.path.join(src_root, "train", cls, name), out / cls / name)
    ants, bees = sorted(os.listdir(out / "ants")), sorted(os.listdir(out / "bees"))
    shutil.copyfile(out / "ants" / ants[0], out / "ants" / f"copy_{ants[0]}")
    truth["exact"] = (f"ants/{ants[0]}", f"ants/copy_{ants[0]}")
    shutil.copyfile(out / "bees" / bees[0], out / "ants" / f"filed_wrong_{bees[0]}")
    truth["cross"] = (f"bees/{bees[0]}", f"ants/filed_wrong_{bees[0]}")
    rng = np.random.default_rng(0)
    for k, (cls, name) in enumerate([("ants", ants[3]), ("ants", ants[5]), ("bees", bees[4]), ("bees", bees[7])]):
        with Image.open(out / cls / name) as im:
            img = im.convert("RGB")
        w, h = img.size
        img = [lambda i: i, lambda i: i.resize((int(w * 0.85), int(h * 0.85)), Image.BILINEAR), ImageOps.mirror,
               lambda i: i.crop((int(w * 0.03), int(h * 0.03), w, h))][k](img)
        copy = f"{cls}/near_{name}"
        img.save(out / copy, quality=int(rng.integers(50, 71)))
        truth["near"].append((f"{cls}/{name}", copy))
    return truth


def test_manifest_round_trip_on_real_photos(shared_data, tmp_path, capsys):
    src = tmp_path / "planted"
    truth = _plant(shared_data("hymenoptera"), src)
    cache = str(tmp_path / "planted.h5")
    extract(str(src), cache, layers=["global_pool"], progress=False, workers=0)
    capsys.readouterr()
    assert main(["cv", cache, "--heads", "logreg", "--folds", "3"]) == 0
    before = capsys.readouterr().err
    assert "exact copies" in before and "near-duplicate" in before, before

    manifest = tmp_path / "clean.csv"
    assert main(["audit", cache, "--folds", "3", "--write-manifest", str(manifest)]) == 0
    rows = {os.path.relpath(r["path"], src) if os.path.isabs(r["path"]) else r["path"]: r
            for r in csv.DictReader(open(manifest))}
    dropped = {os.path.relpath(r["path"], src) if os.path.isabs(r["path"]) else r["path"]: r["reason"]
               for r in csv.DictReader(open(tmp_path / "clean.dropped.csv"))}
    rows = {os.path.normpath(p).replace(os.sep, "/"): r for p, r in rows.items()}
    dropped = {os.path.normpath(p).replace(os.sep, "/"): r for p, r in dropped.items()}
    a, b = truth["exact"]
    assert (a in rows) != (b in rows) and (a in dropped or b in dropped)
    assert dropped[truth["cross"][0]] == dropped[truth["cross"][1]] == "exact copy with a conflicting label"
    assert len(rows) + len(dropped) == 46 and not set(rows) & set(dropped)
    for orig, copy in truth["near"]:
        assert rows[orig]["group"] != "" and rows[orig]["group"] == rows[copy]["group"], (orig, copy)

    clean = str(tmp_path / "clean.h5")
    extract(str(manifest), clean, layers=["global_pool"], progress=False, workers=0)
    capsys.readouterr()
    assert main(["cv", clean, "--heads", "logreg", "--folds", "3"]) == 0
    after = capsys.readouterr().err
    assert "exact copies" not in after and "near-duplicate" not in after, after
