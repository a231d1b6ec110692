"""Glue between the two halves: a cache read by featx.extract becomes FeatureSets for
featx.classify (which never imports featx.extract)."""

from __future__ import annotations

import os

from featx.classify import FeatureSet
from featx.extract import CacheData, read_cache


def feature_sets_from_cache(data: CacheData, layers: list[str] | None = None, *, prefix: str | None = None) -> list[FeatureSet]:
    """One FeatureSet per layer of a cache; rows keyed by content hash so several caches of the
    same images can be matched (ensembles)."""
    tag = prefix if prefix is not None else _cache_tag(data)
    out = []
    for layer in layers or list(data.features):
        out.append(FeatureSet(
            name=f"{tag}/{layer}" if tag else layer,
            X=data.features[layer], y=data.labels, class_names=list(data.class_names),
            groups=data.groups, keys=data.hashes, meta=data.layer_meta(layer),
        ))
    return out


def load_feature_sets(caches: list[str], layers: list[str] | None = None) -> list[FeatureSet]:
    """Feature sets of several caches; each layer is read once, as float32."""
    sets = []
    many = len(caches) > 1
    for path in caches:
        data = read_cache(path, layers=_layers_in(path, layers))
        sets.extend(feature_sets_from_cache(data, prefix=_cache_tag(data) if many else data.meta.get("model", "")))
    return sets


def _layers_in(path: str, layers: list[str] | None) -> list[str] | None:
    if not layers:
        return None
    from featx.extract import cache_info

    available = list((cache_info(path).get("layers") or {}))
    chosen = [layer for layer in layers if layer in available]
    return chosen or layers  # none present: let read_cache name the problem


def _cache_tag(data: CacheData) -> str:
    return os.path.splitext(os.path.basename(data.path))[0]
