"""Generate the benchmark image set: N real-photo JPEGs of 500x375 (default 5,000).

Each image is a seeded random crop (with optional mirror) of a hymenoptera photo, resized to
500x375 and saved at JPEG quality 90, so decoding cost and content are those of ordinary photos.
Written as class folders (ants/, bees/) plus ``first1000.csv``, a manifest of the first 1,000
images (the 1k point of the memory benchmark).

    .venv/bin/python benchmarks/make_jpeg5k.py [--source ../shared/data/hymenoptera] [--out /work/bench-data/jpeg5k]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import sys

from PIL import Image

W, H = 500, 375


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=os.path.join(here, "..", "..", "shared", "data", "hymenoptera"))
    p.add_argument("--out", default="/work/bench-data/jpeg5k")
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    photos = sorted(glob.glob(os.path.join(args.source, "**", "*.jp*g"), recursive=True))
    if not photos:
        print(f"error: no JPEG photos under {args.source}", file=sys.stderr)
        return 2
    marker = os.path.join(args.out, ".complete")
    if os.path.exists(marker) and open(marker).read().strip() == str(args.n):
        print(f"{args.out}: {args.n} images already there")
        return 0
    rng = random.Random(args.seed)
    rows = []
    for i in range(args.n):
        src = photos[i % len(photos)]
        label = "bees" if "bees" in src.split(os.sep) else "ants"
        with Image.open(src) as im:
            im = im.convert("RGB")
            w, h = im.size
            frac = rng.uniform(0.6, 1.0)
            cw = min(w, int(h * frac * W / H))
            ch = int(cw * H / W)
            if ch > h:
                ch, cw = h, int(h * W / H)
            x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
            im = im.crop((x0, y0, x0 + cw, y0 + ch)).resize((W, H), Image.BICUBIC)
            if rng.random() < 0.5:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
        rel = os.path.join(label, f"{i:05d}.jpg")
        os.makedirs(os.path.join(args.out, label), exist_ok=True)
        im.save(os.path.join(args.out, rel), quality=90)
        rows.append((rel, label))
    with open(os.path.join(args.out, "first1000.csv"), "w") as fh:
        fh.write("path,label\n")
        fh.writelines(f"{r},{lab}\n" for r, lab in rows[:1000])
    with open(marker, "w") as fh:
        fh.write(str(args.n))
    print(f"wrote {args.n} JPEGs of {W}x{H} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
