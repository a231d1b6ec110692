"""Reading a cache: numpy arrays, labels and provenance for the classical heads; a summary for
``featx info`` that also works on half-written or partly damaged files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from featx.extract._errors import CacheDamagedError, CacheError, UnknownLayerError
from featx.common.messages import first_line, suggest
from featx.extract.cache._join import check_shards
from featx.extract.cache._store import _dec, open_cache, read_spec


@dataclass
class CacheData:
    """The finished (extracted, not failed) rows of a cache.

    ``features[layer]`` is (n, D) float32; ``labels`` index ``class_names`` (-1: unlabelled);
    ``meta`` is the provenance dict that featx.classify copies into results and bundles.
    """

    path: str
    features: dict[str, np.ndarray]
    labels: np.ndarray
    class_names: list[str]
    paths: list[str]
    groups: np.ndarray | None
    splits: list[str]
    hashes: np.ndarray
    rows: np.ndarray
    meta: dict
    failures: list[tuple[str, str]] = field(default_factory=list)
    complete: bool = True

    def __len__(self) -> int:
        return len(self.paths)

    def layer_meta(self, layer: str) -> dict:
        """Provenance of one layer's features (what a fitted head depends on)."""
        meta = dict(self.meta)
        meta["layer"] = layer
        meta["feature_dim"] = int(self.features[layer].shape[1])
        return meta

    def describe(self, labels: np.ndarray | None = None) -> dict:
        """The dataset in plain data: ``rows`` (all rows of the cache, failed ones too),
        ``used_rows`` and ``counts`` per class of ``labels`` (default: this data's; unlabelled
        rows are not counted), ``classes``, ``failures`` ([path, reason]) and the number of
        distinct ``groups`` (0 without a group column)."""
        labels = self.labels if labels is None else np.asarray(labels)
        counts = np.bincount(labels[labels >= 0], minlength=len(self.class_names))
        return {
            "rows": int(self.meta.get("cache_rows", len(self.paths))), "used_rows": int(len(labels)),
            "classes": list(self.class_names), "counts": {c: int(n) for c, n in zip(self.class_names, counts)},
            "failures": [list(f) for f in self.failures],
            "groups": int(len(set(self.groups.tolist()))) if self.groups is not None else 0,
        }


def read_cache(path: str, layers: list[str] | None = None, *, allow_incomplete: bool = False) -> CacheData:
    """Load the extracted rows of ``path`` (all layers, or ``layers``) as float32 arrays."""
    path = os.fspath(path)
    with open_cache(path) as f:
        check_shards(path, f)  # a joined cache: every shard there and unchanged, or one line naming it
        try:
            spec = read_spec(f)
            available = list(f["features"].keys())
            wanted = list(layers) if layers else available
            for layer in wanted:
                if layer not in available:
                    raise UnknownLayerError(
                        f"layer {layer!r} is not in cache {path!r}{suggest(layer, available)}; it holds "
                        f"{', '.join(available)} (extract other layers with --layers)"
                    )
            done = f["done"][:].astype(bool)
            failure = _dec(f["failure"][:])
            ok = done & np.array([not r for r in failure], dtype=bool)
            complete = bool(f.attrs.get("complete", False))
            if not complete and not allow_incomplete:
                raise CacheError(
                    f"cache {path!r} is incomplete ({int(done.sum())} of {len(done)} rows done); rerun "
                    "the same 'featx extract' command to finish it"
                )
            rows = np.flatnonzero(ok)
            all_paths = _dec(f["paths"][:])
            groups_all = _dec(f["groups"][:])
            splits_all = _dec(f["splits"][:])
            features = {layer: _read_rows(f["features"][layer], ok) for layer in wanted}
            meta = dict(spec)
            meta.update({
                "cache_path": os.path.abspath(path),
                "cache_created": str(f.attrs.get("created", "")),
                "cache_rows": int(len(done)),
                "class_names": json.loads(f.attrs.get("class_names", "[]")),
            })
            return CacheData(
                path=path,
                features=features,
                labels=f["labels"][:][ok],
                class_names=json.loads(f.attrs.get("class_names", "[]")),
                paths=[all_paths[i] for i in rows],
                groups=np.array([groups_all[i] for i in rows]) if any(groups_all) else None,
                splits=[splits_all[i] for i in rows],
                hashes=np.array(_dec(f["sha256"][:]))[ok],
                rows=rows,
                meta=meta,
                failures=[(all_paths[i], failure[i]) for i in np.flatnonzero(done & ~ok)],
                complete=complete,
            )
        except (CacheError, UnknownLayerError):
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise CacheDamagedError(
                f"cache {path!r} is damaged ({first_line(exc)}); rerun 'featx extract' with --overwrite to rebuild it"
            ) from None


def _read_rows(ds, mask: np.ndarray, block: int = 8192) -> np.ndarray:
    out = np.empty((int(mask.sum()), ds.shape[1]), dtype=np.float32)
    pos = 0
    for start in range(0, ds.shape[0], block):
        m = mask[start:start + block]
        if m.any():
            chunk = ds[start:start + len(m)][m]
            out[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
    return out


def cache_info(path: str) -> dict:
    """What a cache holds; reads as much as it can of a half-written or damaged file."""
    info: dict = {"path": os.fspath(path), "readable": True, "problems": []}
    f = open_cache(path)
    try:
        def attempt(key, fn):
            try:
                info[key] = fn()
            except Exception as exc:  # report what is unreadable, keep going
                info["problems"].append(f"{key}: {first_line(exc)}")

        try:  # a joined cache (extracted on a cluster): a missing or changed shard, named
            check_shards(path, f)
        except CacheDamagedError as exc:
            info["problems"].append(str(exc))
            info["damaged_shards"] = [str(exc)]
        attempt("spec", lambda: read_spec(f))
        attempt("created", lambda: str(f.attrs.get("created", "")))
        attempt("featx_version", lambda: str(f.attrs.get("featx_version", "")))
        attempt("library_versions", lambda: json.loads(f.attrs.get("library_versions", "{}")))
        attempt("source", lambda: json.loads(f.attrs.get("source", "{}")))
        attempt("complete", lambda: bool(f.attrs.get("complete", False)))
        attempt("class_names", lambda: json.loads(f.attrs.get("class_names", "[]")))
        attempt("layers", lambda: {k: {"dim": int(d.shape[1]), "dtype": str(d.dtype)} for k, d in f["features"].items()})

        def rows():
            done = f["done"][:].astype(bool)
            failure = _dec(f["failure"][:])
            failed = done & np.array([bool(r) for r in failure], dtype=bool)
            labels = f["labels"][:]
            names = info.get("class_names") or []
            extracted = done & ~failed
            counts = {name: int(((labels == i) & extracted).sum()) for i, name in enumerate(names)}
            paths = _dec(f["paths"][:])
            return {
                "rows": int(len(done)), "done": int(done.sum()), "extracted": int(extracted.sum()),
                "failed": int(failed.sum()), "pending": int((~done).sum()), "class_counts": counts,
                "failures": [(paths[i], failure[i]) for i in np.flatnonzero(failed)],
            }

        attempt("counts", rows)
    finally:
        f.close()
    info["readable"] = not info["problems"]
    return info
