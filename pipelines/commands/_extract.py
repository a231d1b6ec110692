"""``featx extract``, ``featx consolidate``, ``featx info``, ``featx models`` and ``featx layers``."""

from __future__ import annotations

import argparse
import json
import os
import sys

from featx.pipelines.commands._args import add_command, add_cluster_args, add_options, check_destinations, cluster_tls, option_values


def register(sub, parents) -> None:
    from featx.extract import EXTRACTION_OPTIONS, POOL, SHARD_SIZE

    p = add_command(sub, parents, "extract", help="extract layer activations of images into an HDF5 cache",
                    description="""
        Run a pretrained backbone over a folder or CSV manifest of images and cache the chosen layers' pooled
        activations in HDF5 (resumable).""")
    p.add_argument("source", help="folder with one sub-folder per class, folder of images, or CSV manifest path,label[,group]")
    p.add_argument("-o", "--output", required=True, help="HDF5 cache to write (resumed when it exists)")
    add_model_args(p)
    p.add_argument("--layers", default=None, help="comma-separated layer names (default: penultimate); see 'featx layers MODEL'")
    add_options(p, (POOL, *EXTRACTION_OPTIONS))
    p.add_argument("--overwrite", action="store_true", help="replace an existing cache made with other settings")
    p.add_argument("--strict", action="store_true", help="exit non-zero when any image fails")
    add_cluster_args(p)
    add_options(p, (SHARD_SIZE,))
    p.set_defaults(func=run_extract)

    p = add_command(sub, parents, "consolidate", help="copy a cache joined from cluster shards into one ordinary file",
                    description="""
        Copy OUT.h5, written by 'featx extract --cluster' as a join of the shard caches in OUT.h5.shards/, into
        one ordinary cache file (the shards are left as they are).""")
    p.add_argument("cache", help="joined HDF5 cache written by 'featx extract --cluster'")
    p.add_argument("-o", "--output", default=None, help="file to write (default: replace CACHE itself)")
    p.set_defaults(func=run_consolidate)

    p = add_command(sub, parents, "info", cache=True, help="describe an HDF5 cache (also half-written ones)")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=run_info)

    p = add_command(sub, parents, "models", help="list the built-in backbone names")
    p.set_defaults(func=run_models)

    p = add_command(sub, parents, "layers", help="list the tappable layers of a model with output shapes")
    p.add_argument("model", nargs="?", default=None, help="model spec (default efficientnet_lite0)")
    p.add_argument("--weights", default="none", help="weights to load (shapes do not depend on them; default none)")
    p.add_argument("--depth", type=int, default=None, help="show only layers at most this deep (e.g. 2 for blocks.3)")
    p.set_defaults(func=run_layers)


def add_model_args(p: argparse.ArgumentParser) -> None:
    from featx.extract import DEFAULT_MODEL

    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"backbone: a name from 'featx models', torchvision:NAME, timm:NAME or a featx checkpoint (default {DEFAULT_MODEL})")
    p.add_argument("--weights", default="default",
                   help="default (pretrained), none (random init), a torchvision weights name or a state_dict file")


def run_extract(args) -> int:
    from featx.common.cluster import CLUSTER, SCHEDULER_FILE
    from featx.extract import EXTRACTION_OPTIONS, POOL, SHARD_SIZE, extract

    # an existing cache is resumed; a folder is refused by extract() itself, in its own words
    check_destinations((None if os.path.isdir(args.output) else args.output, "-o", True))
    with cluster_tls(args):
        summary = extract(args.source, args.output, model=args.model, weights=args.weights, layers=args.layers,
                          overwrite=args.overwrite, strict=args.strict, progress=True,
                          **option_values(args, (POOL, *EXTRACTION_OPTIONS, CLUSTER, SCHEDULER_FILE, SHARD_SIZE)))
    print(summary.line())
    return 0


def run_consolidate(args) -> int:
    from featx.extract import consolidate
    from featx.extract.cache import recorded_shards

    # a file there is replaced; a folder (or the shards' own folder) is refused by consolidate() in its own words
    check_destinations((None if args.output is None or os.path.isdir(args.output) else args.output, "-o", True))
    joined = recorded_shards(args.cache) is not None
    written = consolidate(args.cache, args.output)
    if joined:
        print(f"consolidated {args.cache} -> {written} (one ordinary cache file; it needs none of the shards in "
              f"{args.cache}.shards/)")
    else:
        print(f"{args.cache} is already one ordinary cache file (not joined from shards); "
              + (f"copied it to {written}" if written != args.cache else "nothing to do"))
    return 0


def run_info(args) -> int:
    from featx.extract import cache_info

    info = cache_info(args.cache)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0 if info["readable"] else 2
    print(format_info(info))
    return 0 if info["readable"] else 2


def format_info(info: dict) -> str:
    lines = [f"cache       {info['path']}"]
    counts = info.get("counts")
    damaged = info.get("damaged_shards")
    if counts:
        if damaged:  # one state, one fix: the shards' problems are listed below, not as a damaged file
            state = (f"DAMAGED: {len(damaged)} shard(s) missing or changed (rerun the same 'featx extract' command, "
                     "with or without --cluster, to recompute them)")
        elif info.get("complete"):
            state = "complete"
        else:
            state = "INCOMPLETE (rerun the same extract command to finish)"
        lines.append(f"rows        {counts['rows']} ({counts['extracted']} extracted, {counts['failed']} failed, "
                     f"{counts['pending']} pending) - {state}")
        if counts["class_counts"]:
            lines.append(f"classes     {len(counts['class_counts'])}: " +
                         ", ".join(f"{k} ({v})" for k, v in counts["class_counts"].items()))
        else:
            lines.append("classes     none (unlabelled)")
    spec = info.get("spec") or {}
    if spec:
        lines.append(f"model       {spec.get('model')} [{spec.get('source')}:{spec.get('arch')}]")
        lines.append(f"weights     {spec.get('weights')} (sha256 {str(spec.get('weights_sha256', ''))[:16]}...)")
        pre = spec.get("preprocessing") or {}
        lines.append(f"preprocess  resize {pre.get('resize_size')} {pre.get('interpolation')}, crop {pre.get('crop_size')}, "
                     f"mean {pre.get('mean')}, std {pre.get('std')}")
        lines.append(f"pooling     {spec.get('pooling')}, tta {spec.get('tta')}, stored as {spec.get('dtype')}")
    for layer, d in (info.get("layers") or {}).items():
        lines.append(f"layer       {layer}: {d['dim']} dims, {d['dtype']}")
    if info.get("created"):
        lines.append(f"created     {info['created']} by featx {info.get('featx_version')}")
    if counts and counts["failures"]:
        lines.append(f"failures    {len(counts['failures'])}:")
        for path, reason in counts["failures"][:20]:
            lines.append(f"  {path}: {reason}")
        if len(counts["failures"]) > 20:
            lines.append(f"  ... and {len(counts['failures']) - 20} more ('featx info --json' lists all)")
    for problem in damaged or ():
        lines.append(f"shard       {problem}")
    for problem in info.get("problems", []):
        if problem not in (damaged or ()):
            lines.append(f"UNREADABLE  {problem} (the file is damaged; rebuild with 'featx extract ... --overwrite')")
    return "\n".join(lines)


def run_models(args) -> int:
    from featx.extract import BUILTIN, DEFAULT_MODEL

    width = max(len(n) for n in BUILTIN)
    for name, spec in BUILTIN.items():
        mark = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name:<{width}}  {spec.description}{mark}")
    print("\nAlso: any torchvision classification model (torchvision:NAME), any timm model (timm:NAME), "
          "or a featx checkpoint path.")
    return 0


def run_layers(args) -> int:
    import torch

    from featx.extract import DEFAULT_MODEL, build_backbone, list_layers, penultimate_layer

    backbone = build_backbone(args.model or DEFAULT_MODEL, args.weights)
    size = backbone.preprocessing.crop_size
    example = torch.zeros(1, 3, size, size)
    default = penultimate_layer(backbone.module, example)
    layers = list_layers(backbone.module, example)
    width = max(len(info.name) for info in layers)
    for info in layers:
        if args.depth is not None and info.name.count(".") >= args.depth:
            continue
        mark = "  <- penultimate (default)" if info.name == default else ""
        print(f"{info.name:<{width}}  {info.kind:<24} {'x'.join(str(s) for s in info.shape)}{mark}")
    if default.endswith(":in"):
        print(f"{default:<{width}}  (input of the classifier)  <- penultimate (default)")
    sys.stdout.flush()
    return 0
