"""``featx explore CACHE.h5 -o explore.html``: the interactive explorer of a cache (see
featx.pipelines.explore) - a 2-D map of a layer's features, thumbnails, neighbours, the audit's
findings as colours and filters, a selection exported as a manifest CSV.

The findings come from ``--audit AUDIT.json`` (``featx audit --json``), or from an audit run here
(out-of-fold predictions included) unless ``--no-audit``; ``--predictions`` reads the CSV of
``featx predict``.
"""

from __future__ import annotations

import json
import os

from featx.common.messages import first_line
from featx.pipelines._errors import PipelineError
from featx.pipelines.commands._args import add_command


def register(sub, parents) -> None:
    from featx.classify import HEADS
    from featx.pipelines.explore._map import DEFAULT_MAP, MAP_METHODS
    from featx.pipelines.explore._page import THUMB_MODES

    p = add_command(sub, parents, "explore", cache=True, help="write an interactive, offline HTML explorer of a cache",
                    description="""
        Write one HTML page (no server, no network) with a 2-D map of a layer's features: hover for the image,
        click for its nearest neighbours, colour and filter by class, prediction and audit findings, select with
        a box or lasso and export the selection as a manifest CSV that 'featx extract' and 'featx cv' read.""")
    p.add_argument("-o", "--output", required=True, help="HTML file to write (thumbnails of large sets go to NAME_files/ beside it)")
    p.add_argument("--layer", default=None, help="layer to map (default: the cache's last layer)")
    p.add_argument("--audit", default=None, metavar="JSON", help="findings of 'featx audit --json' (default: run the audit here)")
    p.add_argument("--no-audit", dest="run_audit", action="store_false", help="without --audit: show no findings (no CV is run)")
    p.add_argument("--predictions", default=None, metavar="CSV", help="predictions CSV of 'featx predict' to colour and filter by")
    p.add_argument("--head", default="logreg", help=f"head of the audit run here ({', '.join(HEADS)}; default logreg)")
    p.add_argument("--map", dest="map_method", choices=MAP_METHODS, default=DEFAULT_MAP,
                   help=f"2-D map method (default {DEFAULT_MAP}: t-SNE up to 5,000 rows, UMAP above; pca is instant)")
    p.add_argument("--thumbs", choices=THUMB_MODES, default="auto",
                   help="thumbnails inlined in the page, in a sibling folder, or none (default auto: inline up to 6 MB)")
    p.add_argument("--seed", type=int, default=0, help="seed of the map and the audit (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run_explore)


def _check(args) -> None:
    from featx.common.files import destination_problem

    if not os.path.isfile(args.cache):
        raise PipelineError(f"cache {args.cache!r} does not exist; pass a cache written by 'featx extract'")
    problem = destination_problem(args.output, "-o", args.overwrite)
    if problem:
        raise PipelineError(problem)
    for flag, path in (("--audit", args.audit), ("--predictions", args.predictions)):
        if path and not os.path.isfile(path):
            raise PipelineError(f"{flag} {path!r} does not exist; pass the file written by "
                                f"'featx {'audit --json' if flag == '--audit' else 'predict -o'}'")


def _read_audit(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PipelineError(f"--audit {path!r} is not readable JSON ({first_line(exc)}); pass the file of 'featx audit --json'") from None
    if not isinstance(doc, dict) or not any(k in doc for k in ("label_issues", "outliers", "exact_duplicates", "near_duplicates")):
        raise PipelineError(f"--audit {path!r} is not an audit (no label_issues/outliers/duplicates); pass the file of 'featx audit --json'")
    return doc


def audit_here(cache: str, data, layer: str, *, head: str, seed: int):
    """``(findings, predictions, outlier_scores)`` of an audit of the cache's labelled rows."""
    import numpy as np

    from featx.classify import ClassifyError, FeatureSet, audit
    from featx.classify.audits import unique_keys
    from featx.pipelines._glue import image_scan

    labelled = data.labels >= 0
    paths = [p for p, keep in zip(data.paths, labelled) if keep]
    fs = FeatureSet(layer, data.features[layer][labelled], data.labels[labelled], data.class_names,
                    groups=None if data.groups is None else data.groups[labelled],
                    keys=unique_keys(data.hashes[labelled], paths), meta=data.layer_meta(layer))
    phash, stats = image_scan(cache, paths, progress=False)  # with the image-quality checks
    try:
        result = audit(fs, paths, sha256=data.hashes[labelled], phash=phash, head=head, seed=seed, image_stats=stats)
    except ClassifyError as exc:
        print(f"note: no audit ({first_line(exc)}); the page shows no findings")
        return None, None, None
    conf = result.oof_proba.max(axis=1)
    predictions = {p: (int(c), float(s)) for p, c, s in zip(paths, result.oof_pred, conf) if c >= 0}
    scores = np.full(len(data.paths), np.nan)
    scores[labelled] = result.outlier_scores
    return result.to_json(), predictions, [None if np.isnan(v) else float(v) for v in scores]


def run_explore(args) -> int:
    from featx.extract import cache_info, read_cache
    from featx.pipelines.explore._build import build_explorer
    from featx.pipelines.explore._data import read_predictions

    _check(args)
    findings = _read_audit(args.audit) if args.audit else None
    data = read_cache(args.cache, [args.layer] if args.layer else None)
    layer = args.layer or list(data.features)[-1]
    if not len(data.paths):
        raise PipelineError(f"cache {args.cache!r} has no extracted rows; run 'featx extract' first")
    root = (cache_info(args.cache).get("source") or {}).get("root") or ""
    predictions = read_predictions(args.predictions, data.class_names) if args.predictions else None
    outlier_scores = None
    if findings is None and args.run_audit:
        print(f"auditing {len(data.paths)} rows (head {args.head}; --no-audit skips this)")
        findings, oof, outlier_scores = audit_here(args.cache, data, layer, head=args.head, seed=args.seed)
        predictions = predictions or oof
    info = build_explorer(data, layer, args.output, root=root, findings=findings, predictions=predictions,
                          outlier_scores=outlier_scores, map_method=args.map_method, thumbs=args.thumbs, seed=args.seed)
    extra = f" + {info['sheet_bytes'] / 1e6:.1f} MB of sprite sheets in {os.path.splitext(args.output)[0]}_files/" if info["sheet_bytes"] else ""
    print(f"wrote {args.output}: {info['rows']} points, {info['map']} map of {layer}, thumbnails {info['thumbs']} "
          f"({info['thumbnails']} decoded), {info['html_bytes'] / 1e6:.1f} MB{extra}, in {info['total_s']:.1f} s")
    return 0
