"""``featx finetune``: fine-tune a backbone on labelled images into a featx checkpoint.

``add_predict_parser`` builds ``featx predict CHECKPOINT SOURCE [-o preds.csv]`` for whoever
registers that subcommand (it is not registered here).
"""

from __future__ import annotations

import argparse
import sys


def register(sub, parents) -> None:
    from featx.extract.finetune import FinetuneConfig

    d = FinetuneConfig()
    p = sub.add_parser(
        "finetune", parents=parents, help="fine-tune a backbone on labelled images (writes a featx checkpoint)",
        description="Replace the classifier of a pretrained backbone with a new head for the classes of SOURCE and "
                    "train it (head, partial:K, full or gradual unfreezing) with early stopping on a stratified "
                    "validation split. The checkpoint loads anywhere a model is asked for: "
                    "'featx extract SRC -o x.h5 --model model.pt'. A killed run resumes when the same command is rerun.",
    )
    p.add_argument("source", help="folder with one sub-folder per class, or CSV manifest path,label[,group]")
    p.add_argument("-o", "--output", required=True, help="checkpoint to write (e.g. model.pt); OUTPUT.resume holds the state while training")
    from featx.pipelines._cmd_extract import add_model_args

    add_model_args(p)
    p.add_argument("--strategy", default=d.strategy,
                   help=f"head (backbone frozen), partial:K (top K block groups train), full, gradual[:K] "
                        f"(one more group from the top every --unfreeze-every epochs); default {d.strategy}")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"maximum number of epochs (default {d.epochs})")
    p.add_argument("--lr", type=float, default=None, help="head learning rate (default 1e-3 for adamw, 1e-2 for sgd)")
    p.add_argument("--backbone-lr-mult", type=float, default=d.backbone_lr_mult,
                   help=f"top block group's learning rate as a fraction of --lr (default {d.backbone_lr_mult})")
    p.add_argument("--layer-decay", type=float, default=d.layer_decay,
                   help="each lower block group trains this many times slower than the one above (default 1 = off)")
    p.add_argument("--optimizer", default=d.optimizer, choices=["adamw", "sgd"], help="adamw or sgd with Nesterov momentum 0.9 (default adamw)")
    p.add_argument("--weight-decay", type=float, default=None, help="weight decay, none on biases and norms (default 0.01 adamw, 1e-4 sgd)")
    p.add_argument("--warmup", type=float, default=d.warmup, help=f"epochs of linear warmup before the cosine decay (default {d.warmup:g})")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing, help=f"label smoothing of the training loss (default {d.label_smoothing:g})")
    p.add_argument("--mixup", type=float, default=d.mixup, help="mixup Beta(alpha, alpha); 0 = off (default), 0.2 is typical")
    p.add_argument("--no-augment", action="store_true", help="no random resized crop, flip or colour jitter")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"images per training step (default {d.batch_size})")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help=f"share of each class held out for early stopping (default {d.val_fraction:g}; 0 = none)")
    p.add_argument("--patience", type=int, default=d.patience,
                   help=f"stop after this many epochs without a lower validation loss (default {d.patience}; 0 = off)")
    p.add_argument("--unfreeze-every", type=int, default=d.unfreeze_every, help="gradual: epochs per unfreezing stage (default 1)")
    p.add_argument("--bn", default=d.bn, choices=["auto", "frozen", "train"],
                   help="BatchNorm running statistics of trainable groups: frozen (keep the pretrained ones), train, "
                        "or auto (frozen unless --weights none; default)")
    p.add_argument("--input-size", type=int, default=None, help="train (and store) at this crop size instead of the model's")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed of the split, the head, shuffling and augmentation (default {d.seed})")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="autocast precision (auto: bf16/fp16 on GPU, fp32 on CPU)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader worker processes (default: automatic)")
    p.add_argument("--overwrite", action="store_true", help="discard an existing OUTPUT or resume state and train again")
    p.set_defaults(func=run_finetune)


def config_from_args(args):
    from featx.extract.finetune import FinetuneConfig

    return FinetuneConfig(
        model=args.model, weights=args.weights, strategy=args.strategy, epochs=args.epochs, lr=args.lr,
        backbone_lr_mult=args.backbone_lr_mult, layer_decay=args.layer_decay, optimizer=args.optimizer,
        weight_decay=args.weight_decay, warmup=args.warmup, label_smoothing=args.label_smoothing, mixup=args.mixup,
        augment=not args.no_augment, batch_size=args.batch_size, val_fraction=args.val_fraction,
        patience=args.patience, unfreeze_every=args.unfreeze_every, bn=args.bn, input_size=args.input_size, seed=args.seed,
        device=args.device, precision=args.precision, workers=args.workers,
    )


def run_finetune(args) -> int:
    from featx.extract.finetune import finetune

    result = finetune(args.source, args.output, config_from_args(args), overwrite=args.overwrite, progress=True)
    print(result.line())
    sys.stdout.flush()
    return 0


def add_predict_parser(sub, parents) -> argparse.ArgumentParser:
    """``featx predict CHECKPOINT SOURCE [-o preds.csv]`` (for the caller to register)."""
    p = sub.add_parser("predict", parents=parents, help="classify images with a fine-tuned checkpoint's own head",
                       description="Run a checkpoint written by 'featx finetune' over a folder or CSV manifest and "
                                   "print (or write as CSV) each image's predicted class and class probabilities.")
    p.add_argument("checkpoint", help="checkpoint written by 'featx finetune'")
    p.add_argument("source", help="folder of images (with or without class sub-folders) or CSV manifest")
    p.add_argument("-o", "--output", default=None, help="CSV to write: path,label[,true_label],prob_<class>...")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader worker processes (default: automatic)")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"], help="autocast precision")
    p.add_argument("--tta", default="none", choices=["none", "hflip"], help="hflip: average the image's and its mirror's logits")
    p.set_defaults(func=run_predict)
    return p


def run_predict(args) -> int:
    from featx.extract.finetune import predict_with_checkpoint, write_predictions_csv

    preds = predict_with_checkpoint(args.checkpoint, args.source, batch_size=args.batch_size, workers=args.workers,
                                    device=args.device, precision=args.precision, tta=args.tta, progress=True)
    if args.output:
        write_predictions_csv(preds, args.output)
    else:
        for row in preds:
            print(f"{row.path}\t{row.label}\t{float(row.probs.max()):.4f}")
    acc = preds.accuracy()
    tail = f", accuracy {acc:.4f} against the source's labels" if acc is not None else ""
    failed = f", {len(preds.failures)} could not be decoded" if preds.failures else ""
    where = f" -> {args.output}" if args.output else ""
    print(f"predicted {len(preds)} image(s){failed}{tail}{where}", file=sys.stderr if not args.output else sys.stdout)
    return 0
