"""The explore stage of ``featx run``: one explorer page per source (``explore.html``, or
``explore-SOURCE.html`` with several sources) beside ``report.html``, of the best configuration's
layer, coloured and filtered by that configuration's out-of-fold predictions and audit."""

from __future__ import annotations

import os

import numpy as np


def explore_name(source: str, n_sources: int) -> str:
    """The page's file name in the output folder (the report links to it)."""
    return "explore.html" if n_sources == 1 else f"explore-{source.replace(os.sep, '_')}.html"


def _findings(audit: dict) -> dict:
    """The audit stage's ``findings`` (the built-in audit checks' ``featx audit --json`` shape, as in
    results.json); without pixel statistics no ``image_issues`` key (the page then has no
    image-issue column)."""
    found = dict(audit["findings"])
    if audit.get("image_issues") is None:
        found.pop("image_issues", None)
    return found


def write_explore_pages(spec, feature_sets, best, audits, say=print) -> dict:
    """``{source: file name}`` of the pages written into ``spec.output``."""
    from featx.extract import CacheData
    from featx.pipelines.explore._build import build_explorer

    written = {}
    for src in spec.sources:
        rec = best.get(src.name)
        audit = audits.get(src.name)
        if not rec or not audit:
            continue
        fs = next(f for f in feature_sets[src.name] if f.name == rec["feature_set"])
        paths = [str(k) for k in fs.keys.tolist()]
        if paths != list(audit["paths"]):
            continue  # rows not keyed by path: nothing to show
        n = len(paths)
        data = CacheData(path=src.name, features={fs.name: fs.X}, labels=np.asarray(fs.y), class_names=list(fs.class_names),
                         paths=paths, groups=None, splits=[""] * n, hashes=np.array([""] * n), rows=np.arange(n), meta={})
        pred = {p: (int(c), None) for p, c in zip(paths, audit["oof_pred"]) if c is not None and c >= 0}
        name = explore_name(src.name, len(spec.sources))
        mapped = audit.get("map") or {}
        xy = np.asarray(mapped["xy"]) if len(mapped.get("rows", [])) == n else None  # the audit's t-SNE of every row
        info = build_explorer(data, fs.name, os.path.join(spec.output, name), root=audit.get("root") or "", xy=xy,
                              map_method="tsne" if xy is not None else "auto",
                              findings=_findings(audit), predictions=pred, seed=spec.cv.seed,
                              title=f"{spec.title}: {src.name} ({rec['feature_set']}, {rec['head']})", progress=False, say=say)
        say(f"  {name}: {info['rows']} points, {info['map']} map, thumbnails {info['thumbs']}")
        written[src.name] = name
    return written
