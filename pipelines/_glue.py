"""The cache -> FeatureSet step: rows read by featx.extract become FeatureSets for featx.classify
(which never imports featx.extract). Public as ``featx.pipelines.feature_sets_from_cache`` and
``featx.pipelines.load_feature_sets``. Also the cache -> source images step that the audits of
``featx audit``, ``featx cv --dedupe``, ``featx explore`` and ``featx run`` share
(:func:`source_root`, :func:`image_hashes`, :func:`image_scan`)."""

from __future__ import annotations

import os
import warnings

from featx.classify import CONFLICTS, ClassifyWarning, FeatureSet
from featx.classify.audits import plan_duplicates
from featx.extract import CacheData, cache_info, read_cache


def feature_sets_from_cache(data: CacheData, layers: list[str] | None = None, *, prefix: str | None = None,
                            conflicts: str = CONFLICTS.default, cv: bool = True) -> list[FeatureSet]:
    """One :class:`~featx.classify.FeatureSet` per layer of a read cache, ready for ``compare``,
    ``cross_validate_head`` or ``fit_bundle``::

        from featx.extract import read_cache
        from featx.pipelines import feature_sets_from_cache
        (fs,) = feature_sets_from_cache(read_cache("photos.h5"), ["global_pool"])

    ``data`` is what :func:`featx.extract.read_cache` returns; ``layers`` picks layers it holds
    (default: all, in cache order). Each set is named ``PREFIX/LAYER``; ``prefix`` defaults to
    the cache's file name without extension (``""``: just the layer). Rows are keyed by content
    hash, so feature sets of several caches of the same images can be aligned; ``meta`` carries
    the layer's provenance (model, weights, pooling...) that results and bundles record.

    Exact copies (same sha256) never break this: their keys get ``#k`` suffixes, they share a CV
    group (merged with the cache's groups) so no fold has a copy on both sides, and copies with
    conflicting labels are left out (``conflicts="drop"``, the default) or kept (``"keep"``),
    with a :class:`~featx.classify.ClassifyWarning` saying which (see
    :func:`featx.classify.plan_duplicates`; ``cv=False``, for a fit without folds, leaves CV groups
    out of it).
    """
    tag = prefix if prefix is not None else _cache_tag(data)
    plan = plan_duplicates(data.hashes, data.labels, groups=data.groups, paths=data.paths, conflicts=conflicts)
    note = plan.message(data.paths, cv=cv)
    if note:
        warnings.warn(f"{data.path}: {note}", ClassifyWarning, stacklevel=2)
    keep = plan.keep
    return [layer_feature_set(data, layer, keep, name=f"{tag}/{layer}" if tag else layer, keys=plan.keys[keep],
                              groups=None if plan.groups is None else plan.groups[keep])
            for layer in layers or list(data.features)]


def layer_feature_set(data: CacheData, layer: str, rows, *, name: str, keys, groups=None, meta: dict | None = None) -> FeatureSet:
    """The one cache -> FeatureSet step: ``layer``'s features and the labels of ``rows`` (an index
    or a boolean mask of the cache's rows), keyed by ``keys`` (given for those rows), with the
    layer's provenance (plus ``meta``) that results and bundles record."""
    return FeatureSet(name=name, X=data.features[layer][rows], y=data.labels[rows], class_names=list(data.class_names),
                      groups=groups, keys=keys, meta={**data.layer_meta(layer), **(meta or {})})


def load_feature_sets(caches: list[str], layers: list[str] | None = None, *, conflicts: str = CONFLICTS.default) -> list[FeatureSet]:
    """Read cache files into feature sets (as ``featx cv`` does): every layer of each cache, or
    the ``layers`` that cache holds (each cache must hold at least one of them).

    Each layer is read once, as float32. With one cache the sets are named ``MODEL/LAYER``, with
    several ``CACHE/LAYER`` (the file names tell them apart). A requested layer that no cache
    holds raises :class:`featx.extract.UnknownLayerError` naming the layers there are.
    """
    caches = [os.fspath(c) for c in caches]
    held = {path: list(cache_info(path).get("layers") or {}) for path in caches} if layers else {}
    sets = []
    for path in caches:
        # skip a layer only another cache holds; one that no cache holds goes to read_cache to be
        # named, as do all when this cache holds none of them
        wanted = [l for l in layers if l in held[path] or not any(l in h for h in held.values())] if layers else None
        data = read_cache(path, layers=wanted or layers)
        sets.extend(feature_sets_from_cache(data, prefix=_cache_tag(data) if len(caches) > 1 else data.meta.get("model", ""),
                                            conflicts=conflicts))
    return sets


def _cache_tag(data: CacheData) -> str:
    return os.path.splitext(os.path.basename(data.path))[0]


def source_root(cache: str) -> str:
    """The folder the cache's images were read from, as the cache records it ('' if unknown)."""
    return (cache_info(cache).get("source") or {}).get("root") or ""


def image_hashes(cache: str, paths):
    """``(hashes, mirrored, ok)`` of the image files ``paths`` of the cache's source, or None
    when the source folder is gone."""
    from featx.extract.images import phash_files

    root = source_root(cache)
    return phash_files(paths, root) if root and os.path.isdir(root) else None


def image_scan(cache: str, paths, progress: bool = True):
    """``(phash, stats)``: :func:`image_hashes` and the pixel statistics of the image-quality
    checks (``featx.extract.IMAGE_STAT_NAMES``), both from one decode of each file (the cache
    stores neither: they are read from the source images), or ``(None, None)`` when the source
    folder is gone."""
    from featx.extract.images import scan_files

    root = source_root(cache)
    if not (root and os.path.isdir(root)):
        return None, None
    hashes, mirrored, ok, stats = scan_files(paths, root, progress=progress)
    return (hashes, mirrored, ok), stats
