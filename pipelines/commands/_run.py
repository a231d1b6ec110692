"""``featx run [SPEC.toml]``: a whole study from a TOML spec; without a spec, the built-in demo."""

from __future__ import annotations

import os
import shlex
import sys

from featx.pipelines.commands._args import add_command, add_cluster_args, add_options

DEMO_OUTPUT = os.path.join("featx-out", "demo")


def register(sub, parents) -> None:
    from featx.classify import JOBS

    p = add_command(sub, parents, "run", help="run a study from a TOML spec (no spec: the built-in digits demo)",
                    description="""
        Run a study: extract features of every source with every backbone (cached), cross-validate every layer x
        head on the same folds (cached), and write report.html and results.json. --cluster, --scheduler-file and
        --tls-* override the spec's 'cluster' and 'tls_*' keys. Without SPEC, runs the built-in demo on
        scikit-learn's handwritten digits.""")
    p.add_argument("spec", nargs="?", default=None, help="TOML spec (write one with --print-spec); omitted: the demo")
    p.add_argument("--print-spec", action="store_true", help="print a commented example spec (every key) and exit")
    p.add_argument("--check", action="store_true",
                   help="validate the spec (models built, layers dry-run) and exit without extracting")
    p.add_argument("-o", "--output", default=None,
                   help=f"output folder (overrides the spec's 'output'; demo default {DEMO_OUTPUT})")
    add_options(p, (JOBS,), jobs={"default": None, "help": "parallel outer CV folds (overrides classify.jobs; -1 = all cores)"})
    add_cluster_args(p)  # --cluster / --scheduler-file override the spec's 'cluster', --tls-* its 'tls_*' keys
    p.add_argument("--data-dir", default="data", help="demo only: where the digits PNGs are written (default data)")
    p.add_argument("--per-class", type=int, default=None,
                   help="demo only: a stratified subset with this many images per class")
    p.set_defaults(func=run)


def _command(args) -> str:
    parts = ["featx", "run"]
    if args.spec:
        parts.append(args.spec)
    if args.output:
        parts += ["--output", args.output]
    if args.jobs is not None:
        parts += ["--jobs", str(args.jobs)]
    if args.cluster is not None:
        parts += ["--cluster", args.cluster]
    if args.scheduler_file is not None:
        parts += ["--scheduler-file", args.scheduler_file]
    for flag, value in (("--tls-ca-file", args.tls_ca_file), ("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if value is not None:
            parts += [flag, value]
    if not args.spec:
        if args.data_dir != "data":
            parts += ["--data-dir", args.data_dir]
        if args.per_class is not None:
            parts += ["--per-class", str(args.per_class)]
    return shlex.join(parts)


def run(args) -> int:
    from featx.pipelines._errors import PipelineError

    if args.print_spec:
        from featx.pipelines._example_spec import EXAMPLE_SPEC

        sys.stdout.write(EXAMPLE_SPEC)
        return 0
    if args.spec is None:
        if args.per_class is not None and args.per_class < 2:
            raise PipelineError(f"--per-class must be at least 2 (cross-validation needs 2 images per class); got {args.per_class}")
        spec = _demo(args)
    else:
        if args.per_class is not None or args.data_dir != "data":
            raise PipelineError("--per-class and --data-dir only apply to the built-in demo (featx run without a spec)")
        spec = args.spec
    if args.check:
        return _check(spec, args)

    from featx.pipelines._job import run_job

    # the cluster (--cluster, --scheduler-file or the spec's 'cluster', through --tls-* or the spec's
    # tls_* keys) is connected by run_job after the spec checks
    tls_files = {"ca_file": args.tls_ca_file, "cert": args.tls_cert, "key": args.tls_key}
    result = run_job(spec, output=args.output, jobs=args.jobs, progress=True, command=_command(args), cluster=args.cluster,
                     scheduler_file=args.scheduler_file, tls_files=tls_files)
    for line in result.summary_lines():
        print(line)
    return 0


def _demo(args) -> dict:
    from featx.pipelines._demo import prepare_demo

    return prepare_demo(args.data_dir, args.output or DEMO_OUTPUT, per_class=args.per_class)


def _check(spec, args) -> int:
    from featx.pipelines._spec import check_backbones, load_spec

    loaded = load_spec(spec)
    resolved = check_backbones(loaded)
    n_layers = sum(len(rb.layers) for rb in resolved.values())
    configs = len(loaded.sources) * n_layers * len(loaded.classify.heads)
    print(f"spec OK: {len(loaded.sources)} source(s), {len(resolved)} backbone(s), {n_layers} layer(s), "
          f"{len(loaded.classify.heads)} head(s) -> {configs} configuration(s); output {args.output or loaded.output}")
    for name, rb in resolved.items():
        layers = ", ".join(f"{l} ({rb.dims[l]}-d)" + (f" = {rb.aliases[l]}" if rb.aliases.get(l, l) != l else "") for l in rb.layers)
        print(f"  {name}: {rb.spec.model} [{rb.spec.weights}] {layers}")
    return 0
