"""Per-image cost of the worker side (read, sha256, decode, resize, crop), single process:
featx's path against the exact full-size decode and against torchvision's v2 transforms, on the
500x375 set and on 12 MP photos (4032x3024, made once from the largest hymenoptera photos).

Reports CPU milliseconds per image (process time, robust to other load) and wall milliseconds,
medians of ``--repeats``.

    .venv/bin/python benchmarks/bench_decode.py --images 64
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def large_photos(n: int) -> list[str]:
    from PIL import Image

    out = os.path.join(C.BENCH_DATA, "photos12mp")
    have = sorted(glob.glob(os.path.join(out, "*.jpg")))
    if len(have) >= n:
        return have[:n]
    os.makedirs(out, exist_ok=True)
    srcs = sorted(glob.glob(os.path.join(C.HYMENOPTERA, "**", "*.jp*g"), recursive=True),
                  key=lambda p: -min(Image.open(p).size))[:4]
    for i in range(n):
        with Image.open(srcs[i % len(srcs)]) as im:
            im = im.convert("RGB")
            if (i // len(srcs)) % 2:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            im.resize((4032, 3024), Image.LANCZOS).save(os.path.join(out, f"{i:03d}.jpg"), quality=92)
    return sorted(glob.glob(os.path.join(out, "*.jpg")))[:n]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    from torchvision.transforms import InterpolationMode, v2

    from featx.extract import build_backbone
    from featx.extract.images._loading import ImageRows as _ImageRows, draft_size

    pre = build_backbone("efficientnet_lite0").preprocessing
    C.header("worker-side decode cost", {"images": args.images, "repeats": args.repeats, "preprocessing": pre.describe()})
    fast = pre.pil_transform()
    tv = v2.Compose([v2.Resize(pre.resize_size, interpolation=InterpolationMode(pre.interpolation), antialias=True),
                     v2.CenterCrop(pre.crop_size), v2.PILToTensor()])

    class TV:  # torchvision's v2 pipeline in featx's worker, for comparison
        def array(self, img):
            return tv(img).permute(1, 2, 0).numpy()

    sets = {
        "500x375": C.image_files(C.subset_manifest(C.JPEG5K, args.images, os.path.join(C.BENCH_DATA, "tmp")))[0],
        "4032x3024": large_photos(min(args.images, 16)),
    }
    for set_name, files in sets.items():
        cases = {
            "featx(draft x2)": _ImageRows(files, fast, 10**9, draft_size(pre, True)),
            "exact(no draft)": _ImageRows(files, fast, 10**9, None),
            "draft x1(old)": _ImageRows(files, fast, 10**9, pre.resize_size),
            "torchvision_v2(no draft)": _ImageRows(files, TV(), 10**9, None),
        }
        timings = {k: [] for k in cases}
        for _ in range(args.repeats):
            for name, ds in cases.items():
                with C.Timer() as t:
                    for i in range(len(ds)):
                        assert ds[i][1] is not None
                timings[name].append((t.cpu_seconds * 1e3 / len(ds), t.seconds * 1e3 / len(ds)))
        base = C.median([c for c, _ in timings["featx(draft x2)"]])
        for name, ts in timings.items():
            cpu = C.median([c for c, _ in ts])
            C.result("decode", images=set_name, path=name.replace(" ", ""), cpu_ms_per_img=cpu,
                     wall_ms_per_img=C.median([w for _, w in ts]), cpu_vs_featx=cpu / base, n=len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
