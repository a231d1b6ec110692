"""The load stage of ``featx run``: every cache's layers as FeatureSets on the rows all of a
source's caches hold (ordered by path), exact copies and near-duplicates handled as ``cv.dedupe``
and ``cv.conflicts`` say, and a description of each dataset for the report."""

from __future__ import annotations

import os


def load_features(spec, resolved, extractions, notes: list):
    """Per source: the FeatureSets of every backbone x layer on the rows every cache holds
    (ordered by path), and a description of the dataset for the report."""
    import numpy as np

    from featx.classify import align_feature_sets
    from featx.extract import read_cache

    from featx.pipelines._glue import layer_feature_set
    from featx.pipelines.stages._audit import dedupe_rows

    datasets, feature_sets, audit_info = {}, {}, {}
    for src in spec.sources:
        caches = [(e["backbone"], read_cache(e["cache"])) for e in extractions if e["source"] == src.name]
        fsets = []
        for bname, data in caches:
            rb = resolved[bname]
            order = np.argsort(np.array(data.paths), kind="stable")
            groups = data.groups[order] if spec.cv.scheme == "grouped" and data.groups is not None else None
            for layer in rb.layers:
                fsets.append(layer_feature_set(
                    data, layer, order, name=f"{bname}:{layer}", keys=np.array(data.paths)[order], groups=groups,
                    meta=dict(source=src.name, backbone=bname, layer_as_written=rb.aliases.get(layer, layer), depth=rb.order[layer])))
        aligned = align_feature_sets(fsets, missing="drop")
        dropped = max(len(fs.keys) for fs in fsets) - len(aligned[0].keys)
        if dropped:
            notes.append(f"{src.name}: {dropped} image(s) failed for some backbones only; every comparison uses the "
                         f"{len(aligned[0].keys)} rows all backbones extracted")
        aligned, more, audit_info[src.name] = dedupe_rows(spec.cv, aligned, caches[0][1])
        notes += [f"{src.name}: {n}" for n in more]
        datasets[src.name] = {"name": src.name, "path": src.path, "kind": "manifest" if os.path.isfile(src.path) else "folder",
                              **caches[0][1].describe(aligned[0].y)}
        feature_sets[src.name] = aligned
    return datasets, feature_sets, audit_info
