"""Domain-similarity candidates on real and generated data sets (issue 20, Build item 2).

    .venv/bin/python benchmarks/bench_similarity.py [--images 64] [--out /tmp/featx-similarity]

For each set: the pretrained efficientnet_lite0 (its own ImageNet classifier) runs over a seeded
sample of --images images (featx.extract.finetune.probe_source_model) and every candidate of
featx.classify.transfer.similarity_candidates is computed. Real sets: ../shared/data/hymenoptera,
flowers, caltech101_objects. Generated far-domain sets (written under --out, 2 classes each):
grayscale noise textures, grayscale scan-like slices, synthetic shapes. Prints a markdown table
and, per candidate, the widest threshold margin between the real ImageNet-like sets (hymenoptera,
flowers) and the generated ones, in units of the candidate's spread (margin / range of all values).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# ../shared/data beside the project root, as the tests and the other benchmarks read it
SHARED = os.environ.get("FEATX_SHARED_DATA", os.path.normpath(os.path.join(REPO, "..", "shared", "data")))
REAL = ("hymenoptera", "flowers", "caltech101_objects")
SIMILAR = ("hymenoptera", "flowers")


def make_far_domains(root: str, per_class: int = 32, size: int = 256, seed: int = 0) -> dict:
    """Three generated sets far from ImageNet, two classes each; returns name -> folder."""
    rng = np.random.default_rng(seed)
    out = {}

    def save(name, cls, i, arr):
        folder = os.path.join(root, name, cls)
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(arr).convert("RGB").save(os.path.join(folder, f"{i:03d}.png"))
        out[name] = os.path.join(root, name)

    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(per_class):
        # grayscale textures: smoothed gaussian noise vs oriented sine gratings with noise
        noise = np.asarray(Image.fromarray((rng.random((size, size)) * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(rng.uniform(0.5, 3))))
        save("far_textures", "noise", i, noise)
        th, f = rng.uniform(0, np.pi), rng.uniform(8, 30)
        grating = 127 + 90 * np.sin(2 * np.pi * f * (xx * np.cos(th) + yy * np.sin(th))) + rng.normal(0, 20, (size, size))
        save("far_textures", "grating", i, np.clip(grating, 0, 255).astype(np.uint8))
        # scan-like slices: a bright ellipse (skull) with a darker interior, with or without a blob
        for cls in ("plain", "lesion"):
            img = Image.new("L", (size, size), 0)
            d = ImageDraw.Draw(img)
            a, b = rng.uniform(0.30, 0.42) * size, rng.uniform(0.36, 0.46) * size
            c = size / 2 + rng.normal(0, 6, 2)
            d.ellipse([c[0] - a, c[1] - b, c[0] + a, c[1] + b], fill=int(rng.uniform(180, 230)))
            d.ellipse([c[0] - a + 10, c[1] - b + 10, c[0] + a - 10, c[1] + b - 10], fill=int(rng.uniform(70, 110)))
            if cls == "lesion":
                r = rng.uniform(8, 25)
                p = c + rng.normal(0, 30, 2)
                d.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=int(rng.uniform(160, 250)))
            arr = np.asarray(img.filter(ImageFilter.GaussianBlur(2)), dtype=np.float64) + rng.normal(0, 8, (size, size))
            save("far_scans", cls, i, np.clip(arr, 0, 255).astype(np.uint8))
        # synthetic shapes: one flat-coloured circle or square on a flat background
        for cls in ("circle", "square"):
            bg = tuple(int(v) for v in rng.integers(0, 256, 3))
            fg = tuple(int(v) for v in rng.integers(0, 256, 3))
            img = Image.new("RGB", (size, size), bg)
            d = ImageDraw.Draw(img)
            r = rng.uniform(0.15, 0.35) * size
            c = rng.uniform(r, size - r, 2)
            box = [c[0] - r, c[1] - r, c[0] + r, c[1] + r]
            (d.ellipse if cls == "circle" else d.rectangle)(box, fill=fg)
            save("far_shapes", cls, i, np.asarray(img))
    return out


def main(argv=None) -> int:
    from featx.classify.transfer import SIMILARITY_METHODS, similarity_candidates
    from featx.extract import open_source
    from featx.extract.finetune import probe_source_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--out", default="/tmp/featx-similarity")
    args = ap.parse_args(argv)
    sets = {name: os.path.join(SHARED, name) for name in REAL}
    sets.update(make_far_domains(args.out))
    rows = {}
    for name, path in sets.items():
        t0 = time.perf_counter()
        table = open_source(path)
        probe = probe_source_model(table, max_images=args.images, seed=0)
        y = table.labels[probe.rows]
        rows[name] = similarity_candidates(probe.probs, features=probe.features, y=y,
                                           bn=(probe.bn_mean, probe.bn_var, probe.bn_running_mean, probe.bn_running_var))
        print(f"{name}: {len(probe.rows)} images, {time.perf_counter() - t0:.1f}s, bn layer {probe.bn_layer}", flush=True)
    methods = list(SIMILARITY_METHODS)
    print("\n| set | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for name, c in rows.items():
        print(f"| {name} | " + " | ".join(f"{c[m]:.3f}" for m in methods) + " |")
    far = [n for n in rows if n.startswith("far_")]
    print("\nseparation of {hymenoptera, flowers} (similar) from generated sets (different):")
    for m in methods:
        direction = SIMILARITY_METHODS[m][0]
        sim = [rows[n][m] for n in SIMILAR]
        dif = [rows[n][m] for n in far]
        gap = (min(dif) - max(sim)) if direction == "lower" else (min(sim) - max(dif))
        spread = max(v[m] for v in rows.values()) - min(v[m] for v in rows.values())
        mid = (min(dif) + max(sim)) / 2 if direction == "lower" else (min(sim) + max(dif)) / 2
        print(f"  {m:>9} ({direction} = similar): gap {gap:+.3f}, gap/range {gap / spread if spread else float('nan'):+.2f}, "
              f"midpoint threshold {mid:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
