"""The extract stage of ``featx run``: one HDF5 cache per (source, backbone), named by
:func:`featx.pipelines.stages._keys.extraction_key`'s digest; featx.extract resumes a cache,
updates changed images and does no model work on a complete one."""

from __future__ import annotations

import json
import os

from featx.pipelines.stages._keys import cache_path_for


def extract_all(spec, resolved, stages, progress: bool, client=None) -> list[dict]:
    """One cache per (source, backbone); each record keeps the first extraction's speed. On a
    cluster, each cache is written in shards by the workers and joined (featx.extract)."""
    from featx.extract import extract

    previous = previous_extractions(spec.output)
    settings = {k: v for k, v in spec.extraction.as_dict().items() if v is not None}  # None: extract's default
    out = []
    for src in spec.sources:
        for b in spec.backbones:
            rb = resolved[b.name]
            path = cache_path_for(src.name, src.path, rb, spec)
            # a cache one process wrote (an earlier run without a cluster) is reused and updated
            # here; a new one, or one joined from shards (OUT.h5.shards/), is made on the cluster
            on_cluster = client is not None and (not os.path.exists(path) or os.path.isdir(path + ".shards"))
            stages.say(f"  {src.name} x {b.name} -> {os.path.relpath(path)}"
                       + ("" if on_cluster or client is None else " (written without a cluster before: updated here)"))
            s = extract(src.path, path, model=b.model, weights=b.weights, layers=rb.layers, pool=b.pool, overwrite=False,
                        strict=False, progress=progress, backbone=rb.backbone, **settings,
                        **({"cluster": client} if on_cluster else {}))
            rec = {"source": src.name, "backbone": b.name, **s.as_record()}
            if s.extracted == 0 and path in previous:
                rec["first_extraction"] = previous[path]
            elif s.extracted:
                rec["first_extraction"] = {k: rec[k] for k in ("extracted", "seconds", "images_per_second", "device")}
            out.append(rec)
            stages.say("  " + s.line())
    return out


def previous_extractions(output: str) -> dict:
    try:
        with open(os.path.join(output, "results.json"), encoding="utf-8") as fh:
            doc = json.load(fh)
        return {e["cache"]: e["first_extraction"] for e in doc.get("extractions", []) if e.get("first_extraction")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
