"""Image-quality issues of featx audit on the real sets: per set, the statistics' percentiles
and the images each issue flags (judged by eye for BENCHMARKS.md), and a contact sheet.

    .venv/bin/python benchmarks/bench_image_quality.py [--sheet quality_sheet.png]
"""

from __future__ import annotations

import argparse
import collections
import os

import numpy as np

SETS = ("hymenoptera", "flowers", "caltech101_objects")


def main(argv=None) -> int:
    from featx.classify import QualityThresholds, image_issues
    from featx.extract import IMAGE_EXTENSIONS, IMAGE_STAT_NAMES, scan_files

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    ap.add_argument("--sheet", default=None, help="write a contact sheet of every flagged image (PNG)")
    args = ap.parse_args(argv)
    print("thresholds:", QualityThresholds())
    flagged = []
    for name in SETS:
        root = os.path.join(args.data, name)
        paths = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root)
                       for f in fs if f.lower().endswith(tuple(IMAGE_EXTENSIONS)))
        _, _, ok, stats = scan_files(paths, root)
        issues = image_issues(stats, ok)
        counts = collections.Counter(i for _, i, _ in issues)
        print(f"{name}: {len(paths)} images, {int(ok.sum())} readable, flagged {dict(counts)}")
        for j, s in enumerate(IMAGE_STAT_NAMES):
            print(f"  {s:15s} p0 {np.nanmin(stats[:, j]):8.2f}  p1 {np.nanpercentile(stats[:, j], 1):8.2f}  "
                  f"p50 {np.nanpercentile(stats[:, j], 50):8.2f}  p99 {np.nanpercentile(stats[:, j], 99):8.2f}  "
                  f"p100 {np.nanmax(stats[:, j]):8.2f}")
        for r, i, sc in issues:
            print(f"    {paths[r]}: {i} ({sc:.2f})")
            flagged.append((os.path.join(root, paths[r]), f"{name[:5]} {i} {sc:.1f}"))
    if args.sheet and flagged:
        from PIL import Image, ImageDraw

        w, cols = 160, 8
        sheet = Image.new("RGB", (cols * w, -(-len(flagged) // cols) * (w + 14)), "white")
        draw = ImageDraw.Draw(sheet)
        for k, (p, cap) in enumerate(flagged):
            with Image.open(p) as im:
                im = im.convert("RGB")
                im.thumbnail((w, w))
                x, y = (k % cols) * w, (k // cols) * (w + 14)
                sheet.paste(im, (x, y))
                draw.text((x + 2, y + w), cap[:26], fill="black")
        sheet.save(args.sheet)
        print(f"wrote {args.sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
