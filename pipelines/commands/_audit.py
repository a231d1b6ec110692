"""``featx audit CACHE.h5``: exact and near-duplicate clusters, fold leaks, label issues,
outliers and calibration of a cache's rows, printed as a short summary and, with ``--json``, as
one JSON object for scripts (keys: exact_duplicates, near_duplicates, label_issues, outliers,
calibration, leak, image_issues, then one per check registered with
featx.classify.register_audit_check in the same process)."""

from __future__ import annotations

import os

from featx.pipelines.commands._args import add_command, add_options, check_destinations, option_values
from featx.pipelines._errors import PipelineError


def register(sub, parents) -> None:
    from featx.classify import FOLDS, HEADS, JOBS, METRIC, REPEATS, SEED

    p = add_command(sub, parents, "audit", cache=True, help="find duplicates, fold leaks, label errors, outliers; check calibration",
                    description="""
        Audit a cache's rows: exact (sha256) and near-duplicate clusters (features and perceptual hashes of the
        image files), clusters that straddle CV folds, the score with and without leak-proof grouping,
        confident-learning label issues, k-NN outliers and the calibration of out-of-fold probabilities.""")
    p.add_argument("--layer", default=None, help="layer to audit (default: the cache's last layer)")
    p.add_argument("--head", default="logreg", help=f"head whose out-of-fold probabilities rank label issues ({', '.join(HEADS)})")
    p.add_argument("--no-image-hashes", dest="image_hashes", action="store_false",
                   help="do not read the image files for perceptual hashes (near-duplicates from features only)")
    p.add_argument("--top", type=int, default=5, help="items of each check printed (default 5)")
    p.add_argument("--json", default=None, help="write the findings to this JSON file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json or --write-manifest file")
    p.add_argument("--write-manifest", default=None, metavar="CSV",
                   help="write a clean manifest (path,label,group,label_issue) that featx extract reads: one copy of each "
                        "exact group, conflicting copies dropped, near-duplicate clusters as groups; dropped rows and "
                        "their reasons go to CSV's .dropped.csv sidecar")
    p.add_argument("--drop-label-issues", action="store_true", help="with --write-manifest: drop suspected label errors "
                                                                     "instead of flagging them")
    add_options(p, (FOLDS, REPEATS, SEED, JOBS, METRIC), jobs={"default": 1},
                repeats={"default": 3, "help": "repeats of the paired K-fold for the leak difference's interval (default 3)"})
    p.set_defaults(func=run_audit)


def run_audit(args) -> int:
    from featx.classify import FOLDS, JOBS, METRIC, REPEATS, SEED, audit
    from featx.classify.audits import unique_keys
    from featx.pipelines._glue import image_scan, layer_feature_set, source_root
    from featx.common import to_jsonable, write_json
    from featx.extract import read_cache

    if args.top < 0:
        raise PipelineError(f"--top must be 0 or more (items of each check printed); got {args.top}")
    check_destinations((args.json, "--json", args.overwrite), (args.write_manifest, "--write-manifest", args.overwrite))
    data = read_cache(args.cache, [args.layer] if args.layer else None)
    layer = args.layer or list(data.features)[-1]
    labelled = data.labels >= 0
    if not labelled.all():
        print(f"note: {int((~labelled).sum())} unlabelled row(s) left out of the audit")
    paths = [p for p, keep in zip(data.paths, labelled) if keep]
    hashes = data.hashes[labelled]
    fs = layer_feature_set(data, layer, labelled, name=layer, keys=unique_keys(hashes, paths),
                           groups=None if data.groups is None else data.groups[labelled])
    phash, stats = image_scan(args.cache, paths) if args.image_hashes else (None, None)
    if phash is not None:
        if not phash[2].all():
            print(f"note: {int((~phash[2]).sum())} image file(s) could not be read; those rows are compared by features only")
    elif args.image_hashes:
        print("note: the source images are not where the cache says; near-duplicates from features only, "
              "image-quality issues unavailable")
    else:
        print("note: --no-image-hashes: image-quality issues unavailable (they are read from the image files)")
    options = option_values(args, (FOLDS, REPEATS, SEED, JOBS, METRIC))
    result = audit(fs, paths, sha256=hashes, phash=phash, head=args.head, image_stats=stats, **options)
    print(f"audit of {args.cache} ({fs.n_samples} rows, layer {layer})")
    print(result.summary(top=args.top))
    if args.json:
        print(f"wrote {write_json(args.json, to_jsonable(result.to_json()))}")
    if args.write_manifest:
        write_manifest(args.write_manifest, result, paths, source_root(args.cache), fs.groups, args.drop_label_issues)
    return 0


def write_manifest(path: str, result, paths, root: str, groups, drop_label_issues: bool) -> None:
    """The clean manifest of an audit and its ``.dropped.csv`` sidecar (see ``clean_rows``)."""
    import csv

    from featx.classify.audits import clean_rows

    keep, group, flagged, reasons = clean_rows(len(paths), result.labels, result.exact, result.near,
                                               result.label_issues.rows, groups=groups, drop_label_issues=drop_label_issues)
    names = result.class_names
    full = [os.path.join(root, p) if root else p for p in paths]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "group", "label_issue"])
        for i in map(int, keep.nonzero()[0]):
            w.writerow([full[i], names[result.labels[i]], group[i], "yes" if flagged[i] else ""])
    side = os.path.splitext(path)[0] + ".dropped.csv"
    with open(side, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "reason"])
        for i, why in sorted(reasons.items()):
            w.writerow([full[i], names[result.labels[i]], why])
    print(f"wrote {path}: {int(keep.sum())} row(s), {int(flagged[keep].sum())} flagged as label issues, "
          f"{len(reasons)} dropped (listed in {side})")
