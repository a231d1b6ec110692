"""Fine-tuning wall time: the frozen layers through OpenVINO (``--frozen-runtime auto``) against
eager torch (``--frozen-runtime torch``), the same ``featx finetune`` command otherwise, side by side
in one run. Each run is a fresh ``featx finetune`` process with an empty OpenVINO model cache, so
the conversion and compilation of the prefix are inside the measured time.

Run: .venv/bin/python benchmarks/bench_finetune_frozen.py [--data DIR] [--strategy partial:2] [--epochs 2]
     [--extra=--no-augment] [--runtimes torch,auto] [--rounds 2]
Prints one line per run and a JSON summary (wall seconds, the ratio, both validation curves).
``--rounds R`` runs the runtimes R times in alternating order (torch, auto, auto, torch, ...), so
that a load that drifts during the run weighs on both alike; the ratios are of the medians over
rounds, of the whole wall time and of the epochs after the first (the steady state). Every run
starts with an empty model cache unless ``--warm``: then the rounds after the first load the
compiled prefix from the cache the first one wrote, as a user's rerun does.

``--breakdown`` instead times one training step of 32 random 224-pixel images in this process
(partial:2 of efficientnet_lite0): the whole model's forward + backward in eager torch, against
the OpenVINO prefix plus the suffix's forward + backward in torch.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "hymenoptera", "train"))


def run_once(data: str, strategy: str, epochs: int, runtime: str, extra: list[str], workdir: str,
             cache: str) -> dict:
    out = os.path.join(workdir, f"{runtime}-{strategy.replace(':', '')}.pt")
    env = {**os.environ, "FEATX_CACHE_DIR": os.path.join(workdir, cache)}
    cmd = [os.path.join(REPO, ".venv", "bin", "featx"), "finetune", data, "-o", out, "--strategy", strategy,
           "--epochs", str(epochs), "--frozen-runtime", runtime, "--overwrite", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    ckpt = torch.load(out, map_location="cpu", weights_only=True)  # featx checkpoints are plain data
    hist = [{k: h.get(k) for k in ("epoch", "train_loss", "val_loss", "val_acc", "seconds")} for h in ckpt["history"]]
    return {"runtime": runtime, "wall_s": round(wall, 1), "history": hist,
            "command": " ".join(shlex.quote(c) for c in cmd[1:])}


def breakdown(reps: int = 3) -> None:
    from featx.extract.finetune._groups import Freezer
    from featx.extract.finetune._prefix import plan_split
    from featx.extract.finetune._trainer import build_model
    from featx.extract.runtime._ovprefix import OpenVINOPrefix

    fm = build_model("efficientnet_lite0", "default", 2)
    fr = Freezer(fm.module, fm.groups, fm.head, bn_stats=False)
    fr.set_trainable(2)
    fr.train()
    split = plan_split(fm.module, fr.frozen_keys(2), 224)
    ov = OpenVINOPrefix(fm.module, split.boundary, 224, {"bench": split.digest(fm.module)})
    fr.train()
    x = torch.randn(32, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    for _ in range(reps):
        t0 = time.perf_counter()
        fm.module(x).sum().backward()
        t1 = time.perf_counter()
        b = ov(x)
        t2 = time.perf_counter()
        split.suffix(fm.module, b).sum().backward()
        t3 = time.perf_counter()
        print(f"eager forward+backward {t1 - t0:.2f}s | OpenVINO prefix {t2 - t1:.2f}s + suffix forward+backward "
              f"{t3 - t2:.2f}s = {t3 - t1:.2f}s ({(t3 - t1) / (t1 - t0):.2f}x) | torch threads {torch.get_num_threads()}",
              flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--strategy", default="partial:2")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--extra", default="", help="more featx finetune flags, e.g. --extra=--no-augment")
    ap.add_argument("--runtimes", default="torch,auto")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds of all runtimes (ABBA order)")
    ap.add_argument("--warm", action="store_true",
                    help="rounds after the first reuse the runtime's compiled-model cache (a user's rerun)")
    ap.add_argument("--breakdown", action="store_true", help="time one training step's parts instead")
    args = ap.parse_args(argv)
    if args.breakdown:
        breakdown()
        return 0
    import statistics

    results = []
    runtimes = args.runtimes.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-ft-") as workdir:
        for k in range(args.rounds):
            for runtime in (runtimes if k % 2 == 0 else runtimes[::-1]):
                # a cold OpenVINO model cache per run, or one per runtime shared by its rounds (--warm)
                cache = f"cache-{runtime}" if args.warm else f"cache-{runtime}-{k}"
                r = run_once(args.data, args.strategy, args.epochs, runtime, shlex.split(args.extra), workdir, cache)
                curve = ", ".join(f"{h['val_loss']:.4f}/{h['val_acc']:.3f}" for h in r["history"])
                steady = [h["seconds"] for h in r["history"][1:]]
                r["steady_epoch_s"] = round(statistics.median(steady), 2) if steady else None
                print(f"{runtime:>6} (round {k + 1}): {r['wall_s']:7.1f}s, epochs after the first {r['steady_epoch_s']} s "
                      f"(median)  val loss/acc per epoch: {curve}  load {os.getloadavg()[0]:.1f}", flush=True)
                results.append(r)

    def median_of(runtime, key):
        vals = [r[key] for r in results if r["runtime"] == runtime and r[key] is not None]
        return statistics.median(vals) if vals else None

    base = runtimes[0]
    for runtime in runtimes[1:]:
        line = f"{runtime} / {base} wall time: {median_of(runtime, 'wall_s') / median_of(base, 'wall_s'):.2f}x"
        if median_of(base, "steady_epoch_s"):
            line += (f"; an epoch after the first: "
                     f"{median_of(runtime, 'steady_epoch_s') / median_of(base, 'steady_epoch_s'):.2f}x")
        print(line + f" (medians over {args.rounds} round(s))")
    print(json.dumps({"strategy": args.strategy, "epochs": args.epochs, "extra": args.extra, "data": args.data,
                      "cores": os.cpu_count(), "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
