"""The job's result cache and the computations that go through it: cross-validation results,
learning curves and PCA spectra (computed by featx.classify) are looked up by key before
anything is fitted, and stored after."""

from __future__ import annotations

import json
import os

from featx.classify.cv import features_digest, splits_digest
from featx.classify.heads import most_common_params
from featx.common import to_jsonable, write_json
from featx.common.progress import progress_bar, progress_callback  # noqa: F401 - progress_bar: the job's cv bar
from featx.pipelines.stages._keys import CV_CACHE_VERSION, digest


class ResultCache:
    """One JSON file per entry, ``<folder>/<key>.json``, written atomically (a present file is a
    complete entry; a damaged one reads as missing and is recomputed)."""

    def __init__(self, folder: str):
        self.folder = folder

    def load(self, key: str) -> dict | None:
        try:
            with open(os.path.join(self.folder, key + ".json"), encoding="utf-8") as fh:
                doc = json.load(fh)
            return doc if isinstance(doc, dict) else None
        except (OSError, ValueError):
            return None

    def save(self, key: str, doc: dict) -> None:
        os.makedirs(self.folder, exist_ok=True)
        write_json(os.path.join(self.folder, key + ".json"), to_jsonable(doc, keep_nan=True), indent=None, allow_nan=True)


def cached_cv(cache: ResultCache, key: str, fs, compute) -> tuple:
    """``(CVResult, was_cached)``: the stored result of ``key`` (named after ``fs`` as it is now),
    else ``compute()``'s, stored."""
    result = load_cv(cache, key, fs)
    if result is not None:
        return result, True
    result = compute()
    store_cv(cache, key, result)
    return result, False


def load_cv(cache: ResultCache, key: str, fs):
    """The stored CVResult of ``key`` named after ``fs`` as it is now, or None."""
    import dataclasses

    from featx.classify import ClassifyError, CVResult

    doc = cache.load(key)
    if doc is not None and doc.get("v") == CV_CACHE_VERSION:
        try:
            return dataclasses.replace(CVResult.from_record(doc), feature_set=fs.name, meta=dict(fs.meta))
        except (ClassifyError, KeyError, TypeError, ValueError):
            pass  # an entry of another layout: recompute and overwrite
    return None


def store_cv(cache: ResultCache, key: str, result) -> None:
    cache.save(key, {"v": CV_CACHE_VERSION, **result.to_record(predictions=True)})


def cached_learning_curve(spec, fs, result, splits, cache: ResultCache, progress: bool) -> dict:
    """featx.classify's learning curve of ``result``'s configuration (its most often chosen
    hyperparameters, fixed) on the same outer folds, scored by ``metrics.main``."""
    from featx.classify import learning_curve

    c = spec.classify
    params, n_chosen = most_common_params(result.best_params)
    settings = {"metric": spec.metrics.main, "pca": c.pca_for(result.head), "whiten": c.whiten,
                "probability": c.probability, "seed": spec.cv.seed}
    fractions = list(spec.report.fractions)
    key = digest({"kind": "learning_curve", "v": 2, "features": features_digest(fs), "splits": splits_digest(splits),
                  "head": result.head, "params": params, "fractions": fractions, **settings})
    doc = cache.load(key)
    if doc is not None:
        return {**doc, "cached": True}
    doc = learning_curve(fs, result.head, params, splits, fractions, jobs=c.jobs,
                         progress=progress_callback("learning curve", progress), **settings)
    doc["params_folds"] = n_chosen
    cache.save(key, doc)
    return {**doc, "cached": False}


def cached_explained_variance(fs, cache: ResultCache) -> dict:
    """featx.classify's PCA spectrum of ``fs`` (standardised features, all rows)."""
    from featx.classify import explained_variance

    key = digest({"kind": "pca", "v": 1, "features": features_digest(fs, groups=False)})
    doc = cache.load(key)
    if doc is None:
        doc = explained_variance(fs)
        cache.save(key, doc)
    return doc
