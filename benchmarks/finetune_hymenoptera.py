"""Frozen vs fine-tuned backbone on ../shared/data/hymenoptera (train -> val), logistic regression on top.

1. frozen: extract train and val with the default backbone (penultimate layer), fit
   StandardScaler + LogisticRegression on train, score on val;
2. fine-tune the same backbone on train only (``featx.extract.finetune``; its early-stopping
   split is carved out of train, val is never seen), extract train and val with the fine-tuned
   checkpoint's penultimate layer, same logistic regression, score on val;
3. also report the fine-tuned head's own val accuracy (``predict_with_checkpoint``).

Run: .venv/bin/python benchmarks/finetune_hymenoptera.py [--strategy partial:2] [--epochs 8] [--threads N]
Prints one line per stage and a JSON summary (also written to WORKDIR/finetune_hymenoptera.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "hymenoptera"))


def logreg_accuracy(train_h5: str, val_h5: str) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from featx.extract import read_cache

    tr, va = read_cache(train_h5), read_cache(val_h5)
    layer = tr.meta["layers"][0]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    clf.fit(tr.features[layer], tr.labels)
    return float(clf.score(va.features[layer], va.labels))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--workdir", default=None, help="where caches and the checkpoint go (default: a temporary folder)")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--strategy", default="partial:2")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from featx.extract import extract
    from featx.extract.finetune import finetune, predict_with_checkpoint

    workdir = args.workdir or tempfile.mkdtemp(prefix="featx-ft-bench-")
    os.makedirs(workdir, exist_ok=True)
    train_dir, val_dir = os.path.join(args.data, "train"), os.path.join(args.data, "val")
    common = dict(device=args.device, precision=args.precision, progress=False)
    out: dict = {"data": args.data, "model": args.model, "strategy": args.strategy, "epochs": args.epochs,
                 "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                 "load_avg_start": os.getloadavg()[0]}
    t_all = time.perf_counter()

    t = time.perf_counter()
    extract(train_dir, os.path.join(workdir, "frozen_train.h5"), model=args.model, overwrite=True, **common)
    extract(val_dir, os.path.join(workdir, "frozen_val.h5"), model=args.model, overwrite=True, **common)
    out["frozen_extract_s"] = time.perf_counter() - t
    out["frozen_logreg_val_acc"] = logreg_accuracy(os.path.join(workdir, "frozen_train.h5"), os.path.join(workdir, "frozen_val.h5"))
    print(f"frozen      logreg val acc {out['frozen_logreg_val_acc']:.4f}  (extract {out['frozen_extract_s']:.0f}s)", flush=True)

    t_ft = time.perf_counter()
    ckpt = os.path.join(workdir, "finetuned.pt")
    result = finetune(train_dir, ckpt, model=args.model, strategy=args.strategy, epochs=args.epochs,
                      patience=args.patience, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                      device=args.device, precision=args.precision, overwrite=True, progress=True)
    out["finetune_s"] = time.perf_counter() - t_ft
    out["finetune_line"] = result.line()
    out["history"] = result.history
    out["best_epoch"] = result.best_epoch
    print(result.line(), flush=True)

    t = time.perf_counter()
    extract(train_dir, os.path.join(workdir, "ft_train.h5"), model=ckpt, overwrite=True, **common)
    extract(val_dir, os.path.join(workdir, "ft_val.h5"), model=ckpt, overwrite=True, **common)
    out["finetuned_extract_s"] = time.perf_counter() - t
    out["finetuned_logreg_val_acc"] = logreg_accuracy(os.path.join(workdir, "ft_train.h5"), os.path.join(workdir, "ft_val.h5"))
    out["finetune_plus_logreg_s"] = time.perf_counter() - t_ft
    print(f"fine-tuned  logreg val acc {out['finetuned_logreg_val_acc']:.4f}  (extract {out['finetuned_extract_s']:.0f}s; "
          f"fine-tune + extract + logreg {out['finetune_plus_logreg_s'] / 60:.1f} min)", flush=True)

    t = time.perf_counter()
    preds = predict_with_checkpoint(ckpt, val_dir, device=args.device, precision=args.precision)
    out["finetuned_head_val_acc"] = preds.accuracy()
    out["predict_s"] = time.perf_counter() - t
    print(f"fine-tuned  own head val acc {out['finetuned_head_val_acc']:.4f}", flush=True)

    out["total_s"] = time.perf_counter() - t_all
    out["load_avg_end"] = os.getloadavg()[0]
    out["device"] = result.device
    out["pass"] = out["finetuned_logreg_val_acc"] >= out["frozen_logreg_val_acc"]
    with open(os.path.join(workdir, "finetune_hymenoptera.json"), "w") as fh:
        json.dump(out, fh, indent=2, default=str)
    print(json.dumps({k: v for k, v in out.items() if k != "history"}, indent=2, default=str))
    return 0 if out["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
