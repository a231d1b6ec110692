"""``featx finetune``: fine-tune a backbone on labelled images into a featx checkpoint.

Its flags are built from :data:`featx.extract.finetune.FINETUNE_OPTIONS`. ``run_predict`` runs
``featx predict CHECKPOINT SOURCE`` for a fine-tuned checkpoint (the ``predict`` subcommand,
registered with the classify commands, hands checkpoints to it).
"""

from __future__ import annotations

import sys

from featx.pipelines._errors import PipelineError
from featx.pipelines.commands._args import add_command, add_options, option_values
from featx.pipelines.commands._extract import add_model_args


def register(sub, parents) -> None:
    from featx.extract.finetune import FINETUNE_OPTIONS

    p = add_command(sub, parents, "finetune", help="fine-tune a backbone on labelled images (writes a featx checkpoint)",
                    description="""
        Replace the classifier of a pretrained backbone with a new head for the classes of SOURCE and train it
        (head, partial:K, full or gradual unfreezing) with early stopping on a stratified validation split. The
        checkpoint loads anywhere a model is asked for: 'featx extract SRC -o x.h5 --model model.pt'. A killed
        run resumes when the same command is rerun.""")
    p.add_argument("source", help="folder with one sub-folder per class, or CSV manifest path,label[,group]")
    p.add_argument("-o", "--output", required=True, help="checkpoint to write (e.g. model.pt); OUTPUT.resume holds the state while training")
    add_model_args(p)
    add_options(p, FINETUNE_OPTIONS)
    p.add_argument("--overwrite", action="store_true", help="discard an existing OUTPUT or resume state and train again")
    p.set_defaults(func=run_finetune)


def config_from_args(args):
    """The :class:`~featx.extract.finetune.FinetuneConfig` of parsed ``featx finetune`` arguments."""
    from featx.extract.finetune import FINETUNE_OPTIONS, FinetuneConfig

    return FinetuneConfig(model=args.model, weights=args.weights, **option_values(args, FINETUNE_OPTIONS))


def run_finetune(args) -> int:
    from featx.extract.finetune import finetune

    cfg = config_from_args(args)
    problems = _problems_before_work(args, cfg)
    if problems:
        raise PipelineError("; ".join(problems) if len(problems) == 1 else
                            f"{len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))
    result = finetune(args.source, args.output, cfg, overwrite=args.overwrite, progress=True)
    print(result.line())
    sys.stdout.flush()
    return 0


def _problems_before_work(args, cfg) -> list[str]:
    """What can be known before any weights are loaded: the strategy against the architecture's
    block groups, the checkpoint's destination."""
    from featx.common.files import destination_problem
    from featx.extract import resolve_spec
    from featx.extract.finetune import strategy_problems

    problems = []
    try:
        spec = resolve_spec(cfg.model)
    except Exception:  # an unknown model: the fine-tuning's own line names it
        spec = None
    if spec is not None:
        try:
            problems += strategy_problems(spec.source, spec.arch, [cfg.strategy])
        except Exception:  # a strategy that does not parse, a model without groups: the trainer's own line
            pass
    where = destination_problem(args.output, "-o", overwrite=True)  # an existing checkpoint: the trainer's rules
    if where:
        problems.append(where)
    return problems


def run_predict(args) -> int:
    from featx.extract.finetune import predict_with_checkpoint, write_predictions_csv

    preds = predict_with_checkpoint(args.checkpoint, args.source, batch_size=args.batch_size, workers=args.workers,
                                    device=args.device, precision=args.precision, tta=args.tta, progress=True,
                                    runtime=getattr(args, "runtime", "auto"))
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
