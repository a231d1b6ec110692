"""Near-duplicate precision and recall on the three real sets of ../shared/data (hymenoptera,
flowers, caltech101_objects) with planted near-copies, built under a temporary folder (never in
the repo): each set is copied as flat class folders and gets ``--near`` copies (JPEG quality
50-70, resize to 80-90%, crop up to 4%, horizontal mirror, and pairs of these) and ``--exact``
byte copies; then the default backbone's features and the perceptual hashes feed
``featx.classify.near_duplicates``.

A reported pair is true when it was planted, or is a byte-identical pair of the source (flowers
has three), or is listed in ``--real`` (pairs checked by eye: "set<TAB>path<TAB>path" lines).
Every other reported pair is drawn on a contact sheet (``<work>/<set>_unplanted.png``) to be
looked at. Prints one ``result`` line per set.

    .venv/bin/python benchmarks/bench_near_real.py --work /tmp/featx_near
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from helpers.audit_planted import KINDS, _variant  # noqa: E402

SETS = ("hymenoptera", "flowers", "caltech101_objects")


def plant(src: str, out: str, *, n_near: int, n_exact: int, seed: int) -> dict:
    """Flat class folders of ``src`` in ``out`` plus planted copies; the truth as path pairs."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    rel = []
    for dirpath, _, names in sorted(os.walk(src)):
        for name in sorted(names):
            if not name.lower().endswith((".jpg", ".jpeg", ".png")):
                continue
            cls = os.path.basename(dirpath)
            prefix = os.path.relpath(os.path.dirname(dirpath), src)
            flat = name if prefix == "." else f"{prefix.replace(os.sep, '_')}_{name}"
            os.makedirs(os.path.join(out, cls), exist_ok=True)
            shutil.copyfile(os.path.join(dirpath, name), os.path.join(out, cls, flat))
            rel.append(f"{cls}/{flat}")
    picks = iter(rng.permutation(len(rel)).tolist())
    truth = {"near": [], "exact": []}
    for k in range(n_near):
        p = rel[next(picks)]
        kind = KINDS[k % len(KINDS)]
        with Image.open(os.path.join(out, p)) as im:
            img = _variant(im.convert("RGB"), kind, rng)
        copy = f"{p.split('/')[0]}/near{k:03d}_{os.path.splitext(os.path.basename(p))[0]}.jpg"
        img.save(os.path.join(out, copy), quality=int(rng.integers(50, 71)) if "jpeg" in kind else 90)
        truth["near"].append([p, copy, kind])
    for k in range(n_exact):
        p = rel[next(picks)]
        copy = f"{p.split('/')[0]}/copy{k:02d}_{os.path.basename(p)}"
        shutil.copyfile(os.path.join(out, p), os.path.join(out, copy))
        truth["exact"].append([p, copy])
    return truth




def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/featx_near")
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--near", type=int, default=40)
    ap.add_argument("--exact", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", default=None, help="pairs checked by eye as real duplicates (set<TAB>a<TAB>b lines)")
    ap.add_argument("--prepare-only", action="store_true")
    args = ap.parse_args(argv)
    from featx.extract import extract, phash_files, read_cache

    real = set()
    if args.real and os.path.exists(args.real):
        for line in open(args.real):
            if line.strip() and not line.startswith("#"):
                s, a, b = line.rstrip("\n").split("\t")[:3]
                real.add((s, *sorted((a, b))))
    for name in args.sets.split(","):
        root = os.path.join(args.work, name)
        cache = os.path.join(args.work, f"{name}.h5")
        truth_path = os.path.join(args.work, f"{name}.truth.json")
        if not os.path.exists(truth_path):
            shutil.rmtree(root, ignore_errors=True)
            truth = plant(os.path.join(args.data, name), root, n_near=args.near, n_exact=args.exact, seed=args.seed)
            with open(truth_path, "w") as fh:
                json.dump(truth, fh)
        truth = json.load(open(truth_path))
        if not os.path.exists(cache):
            extract(root, cache, progress=False)
        if args.prepare_only:
            print(f"prepared {name}: {cache}")
            continue
        evaluate(name, root, cache, truth, real, args.work)
    return 0


def evaluate(name, root, cache, truth, real, work):
    from featx.classify import cluster_rows
    from featx.extract import phash_files, read_cache

    data = read_cache(cache)
    layer = list(data.features)[-1]
    X = data.features[layer]
    paths = list(data.paths)
    phash = phash_files(paths, root)
    exact, near = cluster_rows(X, sha256=data.hashes, phash=phash)
    sha = {}
    for p, h in zip(paths, data.hashes.tolist()):
        sha.setdefault(h, []).append(p)
    same_bytes = {tuple(sorted((g[i], g[j]))) for g in sha.values() for i in range(len(g)) for j in range(i + 1, len(g))}
    planted = {tuple(sorted(t[:2])) for t in truth["near"]}
    twins = {p: g for g in sha.values() for p in g}  # a copy of a file is a copy of its byte twins too
    via_twins = {tuple(sorted((b, t[1]))) for t in truth["near"] for b in twins.get(t[0], []) if b != t[0]}
    ok = planted | same_bytes | via_twins | {(a, b) for s, a, b in real if s == name}
    reported = set()
    for c in near:
        for a, b in c.pairs.tolist():
            reported.add(tuple(sorted((paths[a], paths[b]))))
    tp = len(reported & ok)
    precision = tp / max(1, len(reported))
    recall = len(reported & planted) / max(1, len(planted))
    unplanted = sorted(reported - planted - same_bytes)
    missed = sorted(planted - reported)
    with open(os.path.join(work, f"{name}_unplanted.txt"), "w") as fh:
        fh.writelines(f"{name}\t{a}\t{b}\n" for a, b in unplanted)
    if unplanted:
        contact_sheet([(a, b) for a, b in unplanted], root, os.path.join(work, f"{name}_unplanted.png"))
    if missed:
        contact_sheet(missed, root, os.path.join(work, f"{name}_missed.png"))
    print(f"result set={name} rows={len(paths)} planted={len(planted)} reported={len(reported)} true={tp} "
          f"unplanted={len(unplanted)} unplanted_real={len(set(unplanted) & ok)} precision={precision:.3f} "
          f"recall={recall:.3f} clusters={len(near)} largest={max([len(c.rows) for c in near] or [0])} "
          f"missed_kinds={sorted(t[2] for t in truth['near'] if tuple(sorted(t[:2])) in set(missed))}")


def contact_sheet(pairs, root, out, size=120):
    from PIL import Image, ImageDraw

    pairs = pairs[:40]
    sheet = Image.new("RGB", (2 * size + 10, len(pairs) * (size + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (a, b) in enumerate(pairs):
        for c, p in enumerate((a, b)):
            with Image.open(os.path.join(root, p)) as im:
                im = im.convert("RGB")
                im.thumbnail((size, size))
                sheet.paste(im, (c * (size + 10), r * (size + 14) + 12))
        draw.text((0, r * (size + 14)), f"{r}: {os.path.basename(a)[:18]} | {os.path.basename(b)[:18]}", fill="black")
    sheet.save(out)


if __name__ == "__main__":
    sys.exit(main())
