"""``featx cv``, ``featx fit`` and ``featx predict``: classical heads on cached features."""

from __future__ import annotations

import hashlib
import os
import sys
import time

from featx.common.cli_errors import warning_lines
from featx.pipelines.commands._args import (add_command, add_cluster_args, add_options, check_destinations, cluster_client,
                                            option_values)
from featx.pipelines._errors import PipelineError


def register(sub, parents) -> None:
    from featx.classify import HEAD_LIST, HEADS, JOBS, METRIC, SEARCH_METRIC, SEED, WHITEN
    from featx.extract import BATCH_SIZE, DEVICE, PRECISION, RUNTIME, TTA, WORKERS

    p = add_command(sub, parents, "cv", help="cross-validate heads x layers (x caches) on identical folds",
                    description="Compare classical heads on cached features with stratified, grouped or nested CV.")
    p.add_argument("caches", nargs="+", help="HDF5 caches written by 'featx extract' (same images for several)")
    p.add_argument("--layer", action="append", dest="layers", help="layer to use (repeatable; default all in the cache)")
    add_options(p, (HEAD_LIST,), heads={"help": "heads to cross-validate on every layer"})
    _add_head_args(p, _cv_options())
    _add_duplicate_args(p, dedupe=True)
    p.add_argument("--ensemble", choices=["soft", "stacking"], default=None,
                   help="also evaluate an ensemble of every head x feature set on the same folds")
    p.add_argument("--json", default=None, help="write the tidy results to this JSON file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--logme", action="store_true", help="also rank the feature sets by LogME (no CV: seconds) and print "
                   "its rank correlation with the cross-validated ranking")
    add_cluster_args(p)
    p.set_defaults(func=run_cv)

    p = add_command(sub, parents, "fit", cache=True, help="fit a head on every row of a cache and save it as a bundle")
    p.add_argument("--layer", default=None, help="layer (default: the cache's only or first layer)")
    p.add_argument("--head", default="logreg", help=f"head to fit: {', '.join(HEADS)} (default logreg)")
    _add_head_args(p, (WHITEN, SEED, JOBS, METRIC, SEARCH_METRIC),
                   metric={"help": "metric the --search optimises, unless --search-metric is given"})
    p.add_argument("--search", action="store_true", help="grid-search the head's parameters (stratified CV) before the final fit")
    _add_duplicate_args(p, dedupe=False)
    p.add_argument("-o", "--output", required=True, help="bundle file to write: NAME.skops (safe format, recommended) or NAME.joblib (a pickle); with a .sha256 sidecar")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    p.set_defaults(func=run_fit)

    p = add_command(sub, parents, "predict", help="classify images with a saved bundle or a fine-tuned checkpoint")
    p.add_argument("model", help="a bundle from 'featx fit' or a checkpoint from 'featx finetune'")
    p.add_argument("source", help="folder or CSV manifest of images to classify")
    p.add_argument("-o", "--output", default=None, help="CSV to write (default: print to the terminal)")
    p.add_argument("--cache", default=None, help="feature cache for the source (default: beside the bundle)")
    add_options(p, (BATCH_SIZE, WORKERS, DEVICE, RUNTIME, PRECISION, TTA),
                precision={"help": "precision of a checkpoint's forward pass (a bundle uses its cache's)"},
                tta={"help": "checkpoints only: average the image's and its mirror's logits"})
    add_cluster_args(p)
    p.set_defaults(func=run_predict)


def _cv_options() -> tuple:
    """The settings of ``featx cv``, all passed to ``featx.classify.compare``."""
    from featx.classify import CV_OPTIONS, JOBS, METRIC, PROBABILITY, SEARCH_METRIC, WHITEN

    return (*CV_OPTIONS, WHITEN, PROBABILITY, JOBS, METRIC, SEARCH_METRIC)


def _add_duplicate_args(p, *, dedupe: bool) -> None:
    from featx.classify import CONFLICTS, DEDUPE

    add_options(p, (CONFLICTS, DEDUPE) if dedupe else (CONFLICTS,))


def _add_head_args(p, options, **overrides) -> None:
    from featx.classify import PCA

    add_options(p, (PCA,), pca={"help": "PCA components: an int, a variance fraction like 0.95, 'search' (with --nested) or off"})
    p.add_argument("--grid", action="append", default=[], metavar="HEAD:PARAM=V1,V2",
                   help="override a search grid, e.g. logreg:clf__C=0.1,1,10 (repeatable)")
    # the CLI fits one job at a time unless asked (the library's default is all cores)
    add_options(p, options, jobs={"default": 1}, **overrides)


def parse_grids(items: list[str]) -> dict:
    from featx.classify.heads import parse_grid_text

    return parse_grid_text(items, what="--grid")


def run_cv(args) -> int:
    check_destinations((args.json, "--json", args.overwrite))
    grids = parse_grids(args.grid) or None  # typos fail before any reading
    with cluster_client(args) as client:  # a cluster that cannot be used fails before any reading too
        return _cv(args, grids, client)


def _cv(args, grids, client) -> int:
    from featx.classify import ClassifyWarning, compare, ensemble_cv
    from featx.common import to_jsonable, write_json
    from featx.common.progress import progress_callback
    from featx.pipelines.stages._dedupe import apply_dedupe
    from featx.pipelines._glue import load_feature_sets

    pca = args.pca
    with warning_lines(ClassifyWarning):  # exact copies and the like, as warning: lines
        feature_sets = load_feature_sets(args.caches, args.layers, conflicts=args.conflicts)
    heads = list(args.heads)
    options = option_values(args, _cv_options())
    feature_sets, note = apply_dedupe(feature_sets, args.dedupe, folds=args.folds, repeats=args.repeats, seed=args.seed)
    if note:
        print(f"{'warning: ' if args.dedupe == 'warn' else ''}{note}", file=sys.stderr)
    metric = args.metric
    t0 = time.perf_counter()
    result = compare(feature_sets, heads, pca=pca, grids=grids, progress=progress_callback("cv"), cluster=client, **options)
    if client is not None:
        print(f"cluster: {len(result.splits) * len(result)} fold task(s) of {len(result)} configuration(s) done in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(result.table(metric=metric))
    records = result.records()
    if args.ensemble:
        ens = ensemble_cv(feature_sets, heads, method=args.ensemble, pca=pca,
                          **{k: options[k] for k in ("folds", "repeats", "seed", "jobs", "inner_folds")})
        m = ens.metrics[metric]
        print(f"ensemble ({args.ensemble}, {len(heads)} head(s) x {len(feature_sets)} feature set(s)): "
              f"{metric} {m['mean']:.3f} +/- {m['std']:.3f}")
        records.append(ens.summary_record())
    best = result.best(metric)
    print(f"best: {best.feature_set} + {best.head}: {metric} {best.metrics[metric]['mean']:.3f}")
    if args.logme:  # the LogME pre-screen beside the CV ranking (issue 15)
        from featx.classify import best_cv_scores, rank_logme

        ranking = rank_logme(feature_sets).versus(best_cv_scores(result, metric), metric)
        print("\n" + ranking.table())
        records.append({"kind": "logme", **ranking.to_record()})
    if args.json:
        # how copies and conflicting labels were handled is part of every record's result
        records = [{**r, "dedupe": args.dedupe, "conflicts": args.conflicts} for r in records]
        print(f"wrote {write_json(args.json, to_jsonable(records))}")
    return 0


def run_fit(args) -> int:
    check_destinations((args.output, "-o", args.overwrite))
    from featx.classify import ClassifyWarning, fit_bundle, save_bundle
    from featx.extract import read_cache
    from featx.pipelines._glue import feature_sets_from_cache

    data = read_cache(args.cache, [args.layer] if args.layer else None)
    layer = args.layer or list(data.features)[0]
    with warning_lines(ClassifyWarning):
        (fs,) = feature_sets_from_cache(data, [layer], conflicts=args.conflicts, cv=False)  # fit does no CV
    bundle = fit_bundle(fs, args.head, pca=args.pca, whiten=args.whiten, search=args.search,
                        grid=parse_grids(args.grid).get(args.head), seed=args.seed, jobs=args.jobs,
                        search_metric=args.search_metric or args.metric)
    path = save_bundle(bundle, args.output, overwrite=args.overwrite)
    chosen = bundle.params.get("best_params")
    print(f"fitted {args.head} on {fs.n_samples} rows x {fs.n_features} features of layer {layer}"
          + (f" (chosen {chosen})" if chosen else "") + f" -> {path}")
    return 0


def _is_checkpoint(path: str) -> bool:
    import zipfile

    from featx.classify import is_skops_file

    # torch.save writes zip archives; joblib bundles are not zips, skops bundles are zips with a schema
    return zipfile.is_zipfile(path) and not is_skops_file(path)


def run_predict(args) -> int:
    check_destinations((args.output, "-o", True), (args.cache, "--cache", True))  # a CSV is replaced; a cache resumed
    if not os.path.isfile(args.model):
        raise PipelineError(f"model {args.model!r} does not exist; pass a bundle from 'featx fit' or a checkpoint from 'featx finetune'")
    if _is_checkpoint(args.model):
        return _predict_checkpoint(args)
    from featx.classify import PickleBundleWarning, load_bundle, write_predictions
    from featx.extract import read_cache

    with warning_lines(PickleBundleWarning, shown=Warning):
        bundle = load_bundle(args.model)
    meta = bundle.meta
    layer = meta.get("layer")
    missing = [k for k in ("model", "weights_arg", "layer", "pooling") if not meta.get(k)]
    if missing:
        raise PipelineError(f"bundle {args.model!r} lacks the provenance needed to extract features ({', '.join(missing)}); refit it with 'featx fit'")
    cache = args.cache or _predict_cache_path(args.model, args.source)
    with cluster_client(args) as client:
        _extract_for_predict(args, meta, layer, cache, client)
    data = read_cache(cache, [layer])
    bundle.check_compatible(data.layer_meta(layer))
    proba = bundle.predict_proba(data.features[layer])
    labels = [bundle.class_names[i] for i in proba.argmax(1)]
    rows = [(path, label, list(p)) for path, label, p in zip(data.paths, labels, proba)]
    write_predictions(rows, bundle.class_names, args.output, data.failures)
    print(f"predicted {len(rows)} image(s) ({len(data.failures)} failed to decode) with {bundle.head} on {layer}"
          + (f" -> {args.output}" if args.output else "") + f"; features cached in {cache}", file=sys.stderr)
    _print_accuracy(data, labels)
    return 0


def _extract_for_predict(args, meta: dict, layer: str, cache: str, client):
    """The bundle's features of ``args.source`` into ``cache`` (on ``client``'s cluster when given)."""
    from featx.extract import extract

    on_cluster = {} if client is None else {"cluster": client}
    return extract(args.source, cache, model=meta["model"], weights=meta["weights_arg"], layers=[layer],
                   pool=meta["pooling"], dtype=meta.get("dtype", "float16"), tta=meta.get("tta", "none"),
                   jpeg_draft=(meta.get("decoding") or {}).get("jpeg_draft", True),
                   batch_size=args.batch_size, workers=args.workers, device=args.device, runtime=args.runtime,
                   progress=True, **on_cluster)


def _predict_cache_path(model_path: str, source: str) -> str:
    key = hashlib.sha256(os.path.abspath(source).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{model_path}.{key}.h5"


def _print_accuracy(data, labels) -> None:
    if data.class_names and (data.labels >= 0).all():
        truth = [data.class_names[i] for i in data.labels]
        acc = sum(a == b for a, b in zip(truth, labels)) / max(1, len(labels))
        print(f"accuracy against the source's labels: {acc:.4f} ({len(labels)} images)", file=sys.stderr)


def _predict_checkpoint(args) -> int:
    """A checkpoint from 'featx finetune' classifies with its own head."""
    from featx.pipelines.commands._finetune import run_predict as run_checkpoint_predict

    args.checkpoint = args.model
    return run_checkpoint_predict(args)
