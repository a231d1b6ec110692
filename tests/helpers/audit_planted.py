"""A messy copy of hymenoptera for the audit tests, built under a temporary folder: exact copies
(same class and across classes), near-duplicates (JPEG re-encoded at quality 50-70, resized to
80-90%, cropped by up to 4%, mirrored, and combinations) and 5% label flips, with the truth."""

from __future__ import annotations

import os
import shutil

import numpy as np
from PIL import Image, ImageOps


def _variant(img: Image.Image, kind: str, rng) -> Image.Image:
    w, h = img.size
    if "crop" in kind:
        f = rng.uniform(0.02, 0.04)
        dx, dy = int(round(w * f * rng.uniform(0, 1))), int(round(h * f * rng.uniform(0, 1)))
        img = img.crop((dx, dy, w - int(round(w * f)) + dx, h - int(round(h * f)) + dy))
    if "resize" in kind:
        s = rng.uniform(0.8, 0.9)
        img = img.resize((max(1, int(w * s)), max(1, int(h * s))), Image.BILINEAR)
    if "mirror" in kind:
        img = ImageOps.mirror(img)
    return img


KINDS = ("jpeg", "resize", "crop", "mirror", "resize+jpeg", "crop+resize", "mirror+jpeg", "crop+mirror")


def build_planted(src: str, out: str, *, n_near: int = 40, n_same: int = 6, n_cross: int = 4,
                  flip_fraction: float = 0.05, seed: int = 0) -> dict:
    """Copy ``src`` (class folders below split folders, as hymenoptera) to ``out`` as flat class
    folders and plant the mess. Returns the truth: ``exact`` (list of path pairs), ``near`` (pairs
    original -> copy), ``flips`` (paths whose folder is now the wrong class), all relative to ``out``."""
    rng = np.random.default_rng(seed)
    files = []
    for dirpath, _, names in os.walk(src):
        for name in sorted(names):
            if name.lower().endswith((".jpg", ".jpeg", ".png")):
                cls = os.path.basename(dirpath)
                split = os.path.basename(os.path.dirname(dirpath))
                files.append((os.path.join(dirpath, name), cls, f"{split}_{name}"))
    files.sort()
    classes = sorted({c for _, c, _ in files})
    for c in classes:
        os.makedirs(os.path.join(out, c), exist_ok=True)
    rel = []
    for path, cls, name in files:
        shutil.copyfile(path, os.path.join(out, cls, name))
        rel.append((f"{cls}/{name}", cls))
    order = rng.permutation(len(rel))
    picks = iter(order.tolist())
    truth = {"exact": [], "near": [], "flips": []}
    for _ in range(n_same):
        p, cls = rel[next(picks)]
        copy = f"{cls}/copy_{os.path.basename(p)}"
        shutil.copyfile(os.path.join(out, p), os.path.join(out, copy))
        truth["exact"].append((p, copy))
    for _ in range(n_cross):
        p, cls = rel[next(picks)]
        other = [c for c in classes if c != cls][0]
        copy = f"{other}/xcopy_{os.path.basename(p)}"
        shutil.copyfile(os.path.join(out, p), os.path.join(out, copy))
        truth["exact"].append((p, copy))
    for k in range(n_near):
        p, cls = rel[next(picks)]
        kind = KINDS[k % len(KINDS)]
        with Image.open(os.path.join(out, p)) as im:
            img = _variant(im.convert("RGB"), kind, rng)
        copy = f"{cls}/near{k:03d}_{os.path.splitext(os.path.basename(p))[0]}.jpg"
        quality = int(rng.integers(50, 71)) if "jpeg" in kind else 90
        img.save(os.path.join(out, copy), quality=quality)
        truth["near"].append((p, copy))
    n_flips = int(round(flip_fraction * len(rel)))
    for _ in range(n_flips):
        p, cls = rel[next(picks)]
        other = [c for c in classes if c != cls][0]
        moved = f"{other}/flip_{os.path.basename(p)}"
        os.rename(os.path.join(out, p), os.path.join(out, moved))
        truth["flips"].append(moved)
    return truth
