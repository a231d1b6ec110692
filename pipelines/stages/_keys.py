"""Cache keys of a study: what names an extraction cache file and a cv-cache entry.

A key is a plain dict of everything that shapes a result; its sha256 (:func:`digest`) names the
file, so other settings never share one and unchanged settings always find theirs.
"""

from __future__ import annotations

import os

from featx.common import versions
from featx.common.jsonable import json_digest

CV_CACHE_VERSION = 1
# extraction settings that change how fast features are made, not what they are
_SPEED_ONLY = ("batch_size", "workers", "device", "precision")


def digest(doc) -> str:
    return json_digest(doc)


def extraction_key(source_path: str, rb, spec) -> dict:
    """Everything that shapes a cache's features; its digest names the cache file."""
    prov = rb.provenance
    settings = {k: v for k, v in spec.extraction.as_dict().items() if k not in _SPEED_ONLY}
    return {"source": os.path.abspath(source_path), "model_source": prov["source"], "arch": prov["arch"],
            "weights_sha256": prov["weights_sha256"], "preprocessing": prov["preprocessing"],
            "layers": list(rb.layers), "pool": rb.spec.pool, **settings}


def cache_path_for(source_name: str, source_path: str, rb, spec) -> str:
    key = digest(extraction_key(source_path, rb, spec))[:16]
    return os.path.join(spec.cache_folder, f"{source_name}--{rb.spec.name}--{key}.h5")


def cv_key(spec, fdig: str, sdig: str, head: str) -> str:
    """The cv-cache key of one head on one feature set with the study's CV settings."""
    from featx.classify import resolve_grid

    c, cv = spec.classify, spec.cv
    grid = resolve_grid(head, c.grid_overrides(head), pca=c.pca_for(head), probability=c.probability) if cv.nested else None
    return digest({
        "kind": "cv", "v": CV_CACHE_VERSION, "features": fdig, "splits": sdig, "head": head, "pca": c.pca_for(head),
        "whiten": c.whiten, "probability": c.probability, "nested": cv.nested,
        "inner_folds": cv.inner_folds if cv.nested else None, "search": cv.search if cv.nested else None,
        "n_iter": cv.n_iter if cv.nested and cv.search == "random" else None, "grid": grid, "seed": cv.seed,
        "search_metric": spec.search_metric if cv.nested else None,
        "versions": versions("featx", "scikit-learn", "xgboost", "numpy", "scipy", python=False),
    })
