"""Image-quality issues of featx audit on the real sets: per set, the statistics' percentiles
and the images each issue flags (judged by eye for BENCHMARKS.md), and a contact sheet.

    .venv/bin/python benchmarks/bench_image_quality.py [--sheet quality_sheet.png]

Also, for ``--generated`` photos per set (a fixed random pick), the blur statistic and whether
``blurry`` is flagged on generated versions: Gaussian blur of radius 2% and 3% of the long side,
dark (x0.15), low contrast (x0.25 + 95), each saved as JPEG quality 90 and decoded as the audit does.
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
    ap.add_argument("--generated", type=int, default=40, help="photos per set for the generated variants (0: none)")
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
        blur = stats[:, IMAGE_STAT_NAMES.index("blur")]
        low = np.argsort(np.where(np.isnan(blur), np.inf, blur))[:5]
        print("  lowest blur:", ", ".join(f"{paths[r]} {blur[r]:.0f}" for r in low))
        if args.generated:
            generated(root, paths, args.generated, QualityThresholds().blur)
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


def generated(root, paths, n, threshold):
    """Blur statistic of generated blurred / dark / low-contrast versions of ``n`` photos."""
    import io

    from PIL import Image, ImageFilter

    from featx.extract import IMAGE_STAT_NAMES, scan_files

    rng = np.random.default_rng(0)
    picks = [paths[i] for i in sorted(rng.choice(len(paths), min(n, len(paths)), replace=False))]
    kinds = {"blur2%": lambda im, a: im.filter(ImageFilter.GaussianBlur(0.02 * max(im.size))),
             "blur3%": lambda im, a: im.filter(ImageFilter.GaussianBlur(0.03 * max(im.size))),
             "dark": lambda im, a: Image.fromarray((a * 0.15).astype(np.uint8)),
             "low_contrast": lambda im, a: Image.fromarray((a * 0.25 + 95).astype(np.uint8))}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        made = {k: [] for k in kinds}
        for j, p in enumerate(picks):
            with Image.open(os.path.join(root, p)) as im:
                im = im.convert("RGB")
                a = np.asarray(im, dtype=np.float64)
                for k, f in kinds.items():
                    name = f"{k}_{j:03d}.jpg"
                    buf = io.BytesIO()
                    f(im, a).save(buf, "JPEG", quality=90)
                    open(os.path.join(tmp, name), "wb").write(buf.getvalue())
                    made[k].append(name)
        for k, names in made.items():
            _, _, ok, st = scan_files(names, tmp)
            b = st[ok, IMAGE_STAT_NAMES.index("blur")]
            print(f"  generated {k:12s} n={len(b)} blur min {b.min():.0f} median {np.median(b):.0f} "
                  f"max {b.max():.0f}  flagged blurry (< {threshold:g}) {int((b < threshold).sum())}/{len(b)}")


if __name__ == "__main__":
    raise SystemExit(main())
