"""``featx similar CACHE.h5 QUERY... [-k 10] [--layer L] [--json]``: the nearest rows of a cache
in feature space, by cosine similarity, for queries that are image paths of the cache, row
indices, or image files not in it (extracted with the cache's own provenance: model, weights,
pooling, dtype, TTA, decoding).

The search runs on :class:`featx.classify.NeighbourIndex` (faiss; exact below 50k rows, an IVF
index with exact re-checked cosines above), built once per cache and layer and saved beside the
cache as ``CACHE.h5.similar-LAYER-DIGEST.npz``; the digest covers the cache's extraction spec,
the layer, its rows' image hashes and paths, so a cache whose content changed gets a new index.

Python API: :func:`similar` returns the same list of dicts that ``--json`` prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile

from featx.pipelines._errors import PipelineError
from featx.pipelines.commands._args import add_command


def register(sub, parents) -> None:
    p = add_command(sub, parents, "similar", cache=True, help="nearest images of a cache by cosine similarity",
                    description="""
        Print the k nearest rows of a cache (cosine of a layer's features) for each QUERY: an image path of the
        cache, a row index, or an image file not in the cache (its features are extracted with the cache's own
        settings). The index is built once per cache and layer and saved beside the cache.""")
    p.add_argument("queries", nargs="+", metavar="QUERY", help="image path (in the cache or not) or row index")
    p.add_argument("-k", type=int, default=10, help="neighbours per query (default 10)")
    p.add_argument("--layer", default=None, help="layer to search (default: the cache's last layer)")
    p.add_argument("--json", action="store_true", help="print [{\"query\", \"neighbours\": [{\"path\", \"cosine\"}]}]")
    p.set_defaults(func=run_similar)


def _prefix(cache: str, layer: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._" else "_" for c in layer)
    return f"{os.path.abspath(cache)}.similar-{safe}-"


def index_path(cache: str, layer: str, digest: str) -> str:
    return f"{_prefix(cache, layer)}{digest[:16]}.npz"


def content_digest(data, layer: str) -> str:
    """sha256 of what a layer's features of ``data`` depend on: spec, layer, paths, image hashes."""
    import numpy as np

    h = hashlib.sha256()
    spec = {k: v for k, v in data.layer_meta(layer).items() if k not in ("cache_rows",)}
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    for p in data.paths:
        h.update(p.encode("utf-8", "surrogateescape") + b"\0")
    h.update(np.ascontiguousarray(data.hashes).tobytes())
    return h.hexdigest()


def load_index(cache: str, data, layer: str):
    """The cache's saved index of ``layer`` when it matches the content, else a new one (saved)."""
    from featx.classify.audits import NeighbourIndex

    path = index_path(cache, layer, content_digest(data, layer))
    if os.path.exists(path):
        try:
            index = NeighbourIndex.load(path)
            if index.n_rows == len(data.paths):
                return index
        except (OSError, ValueError, KeyError):
            pass  # a damaged index file: rebuilt below
    index = NeighbourIndex().build(data.features[layer])
    prefix = _prefix(cache, layer)
    folder = os.path.dirname(prefix)
    for old in os.listdir(folder):  # stale indexes of this layer (the cache changed)
        full = os.path.join(folder, old)
        if full.startswith(prefix) and full.endswith(".npz") and full != path:
            os.unlink(full)
    tmp = path + ".tmp.npz"
    index.save(tmp)
    os.replace(tmp, path)
    return index


def _external_features(data, layer: str, files: list[str]) -> dict:
    """Features of image files not in the cache, extracted with the cache's provenance."""
    import csv

    from featx.extract import extract, read_cache

    meta = data.layer_meta(layer)
    missing = [k for k in ("model", "weights_arg", "pooling") if not meta.get(k)]
    if missing:
        raise PipelineError(f"cache {data.path!r} lacks the provenance to extract a new image ({', '.join(missing)}); "
                            "query with images or rows of the cache")
    with tempfile.TemporaryDirectory(prefix="featx-similar-") as tmp:
        manifest = os.path.join(tmp, "queries.csv")
        with open(manifest, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["path", "label"])
            for f in files:
                w.writerow([os.path.abspath(f), "query"])
        out = os.path.join(tmp, "queries.h5")
        extract(manifest, out, model=meta["model"], weights=meta["weights_arg"], layers=[layer], pool=meta["pooling"],
                dtype=meta.get("dtype", "float16"), tta=meta.get("tta", "none"),
                jpeg_draft=(meta.get("decoding") or {}).get("jpeg_draft", True), progress=False)
        q = read_cache(out, [layer])
        found = {os.path.abspath(p): x for p, x in zip(q.paths, q.features[layer])}
    bad = [f for f in files if os.path.abspath(f) not in found]
    if bad:
        raise PipelineError(f"query image {bad[0]!r} could not be decoded; pass a readable image file")
    return {f: found[os.path.abspath(f)] for f in files}


def resolve_queries(data, layer: str, queries) -> tuple:
    """``(names, vectors)`` of the queries: a row index, a path of the cache (as stored, or the
    file under the cache's source folder), or an image file not in the cache."""
    import numpy as np

    from featx.extract import cache_info

    root = (cache_info(data.path).get("source") or {}).get("root") or ""
    by_path = {p: i for i, p in enumerate(data.paths)}
    if root:
        by_path.update({os.path.abspath(os.path.join(root, p)): i for i, p in enumerate(data.paths)})
    n = len(data.paths)
    rows: list = []
    external = []
    for q in queries:
        q = str(q)
        if q.lstrip("-").isdigit() and not os.path.exists(q):
            i = int(q)
            if not 0 <= i < n:
                raise PipelineError(f"row {i} is not in the cache (it has rows 0..{n - 1}); pass a row index or an image path")
            rows.append(i)
        elif q in by_path or os.path.abspath(q) in by_path:
            rows.append(by_path.get(q, by_path.get(os.path.abspath(q))))
        elif os.path.isfile(q):
            rows.append(None)
            external.append(q)
        else:
            raise PipelineError(f"query {q!r} is neither a row index, a path in the cache, nor an image file; "
                                "pass one of those (see 'featx info CACHE' for the cache's paths)")
    ext = _external_features(data, layer, external) if external else {}
    X = data.features[layer]
    names, vectors = [], []
    it = iter(external)
    for q, r in zip(queries, rows):
        if r is None:
            f = next(it)
            names.append(str(f))
            vectors.append(np.asarray(ext[f], dtype=np.float32))
        else:
            names.append(data.paths[r])
            vectors.append(np.asarray(X[r], dtype=np.float32))
    return names, np.vstack(vectors)


def similar(cache: str, queries, *, k: int = 10, layer: str | None = None) -> list[dict]:
    """``[{"query": PATH, "neighbours": [{"path", "cosine"}, ...]}, ...]``: the ``k`` nearest
    cache rows of each query, most similar first (a query that is a row comes first, cosine 1.0)."""
    import numpy as np

    from featx.extract import read_cache

    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise PipelineError(f"-k must be a positive integer (neighbours per query); got {k!r}")
    if not os.path.exists(cache):
        raise PipelineError(f"cache {cache!r} does not exist; pass a cache written by 'featx extract'")
    data = read_cache(cache, [layer] if layer else None)
    layer = layer or list(data.features)[-1]
    if not len(data.paths):
        raise PipelineError(f"cache {cache!r} has no extracted rows; run 'featx extract' first")
    names, Q = resolve_queries(data, layer, list(queries))
    index = load_index(cache, data, layer)
    cos, ids = index.search(Q, int(k))
    out = []
    for name, c_row, i_row in zip(names, cos, ids):
        out.append({"query": name, "neighbours": [{"path": data.paths[int(i)], "cosine": round(float(c), 6)}
                                                  for c, i in zip(c_row, i_row) if i >= 0]})
    return out


def run_similar(args) -> int:
    results = similar(args.cache, args.queries, k=args.k, layer=args.layer)
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    for r in results:
        print(f"{r['query']}:")
        for nb in r["neighbours"]:
            print(f"  {nb['cosine']:.4f}  {nb['path']}")
    return 0
