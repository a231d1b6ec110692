"""``run_job``: one declarative study from images to a report.

Stages (each timed, each reusing what an earlier run left behind):

1. validate - :func:`load_spec` (cheap checks) then :func:`check_backbones` (builds every
   backbone once and dry-runs its layers); all problems are raised at once as ``SpecError``.
2. extract - one HDF5 cache per (source, backbone), named by a key of everything that shapes the
   features (source path, model, weights hash, preprocessing, layers, pooling, dtype, TTA,
   decoding); featx.extract resumes, updates changed images and does no model work on a
   complete cache.
3. cv - every source x backbone x layer x head on the same seeded folds; each result is stored in
   ``<output>/cv-cache`` under a key of (features digest, head, grid, PCA, CV settings, library
   versions), so rerunning after adding a head fits only that head.
4. learning curve (best configuration per source) and PCA explained variance, cached the same way.
5. report - ``results.json`` and a self-contained ``report.html``.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import hashlib
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from featx.extract import FileLock
from featx.pipelines._spec import ResolvedBackbone, Spec, check_backbones, load_spec

CV_CACHE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class JobResult:
    """What :func:`run_job` produced.

    ``records`` has one tidy dict per source x backbone x layer x head (metrics mean/std/CI,
    chosen hyperparameters, fit times, ``cached``); ``best`` maps each source to its best
    record by ``spec.metrics.main``; ``comparisons`` maps each source to its
    :class:`featx.classify.Comparison`; ``extractions`` has one dict per (source, backbone)
    cache (``extracted`` is 0 when the cache was reused); ``timings`` is seconds per stage.
    """

    spec: Spec
    output: str
    report_path: str
    results_path: str
    records: tuple
    best: Mapping
    comparisons: Mapping
    extractions: tuple
    timings: Mapping
    cv_computed: int
    cv_cached: int
    learning_curves: Mapping = dataclasses.field(default_factory=dict)
    pca: Mapping = dataclasses.field(default_factory=dict)
    datasets: Mapping = dataclasses.field(default_factory=dict)
    notes: tuple = ()

    @property
    def best_record(self) -> dict:
        """The best record of the first source."""
        return self.best[self.spec.sources[0].name]

    def summary_lines(self) -> list[str]:
        main = self.spec.metrics.main
        lines = []
        for source, rec in self.best.items():
            lines.append(
                f"best [{source}]: {rec['backbone']} / {rec['layer']} / {rec['head']}  {main} "
                f"{_fmt(rec[f'{main}_mean'])} +/- {_fmt(rec[f'{main}_std'])} "
                f"(95% CI {_fmt(rec[f'{main}_ci95_low'])}-{_fmt(rec[f'{main}_ci95_high'])})"
            )
        lines.append(f"report: {self.report_path}")
        return lines


def _fmt(v, digits=3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


class _Stages:
    """Stage timings and the terminal lines announcing them."""

    def __init__(self, progress: bool):
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def say(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)

    def run(self, name: str, label: str):
        stages = self

        class _Ctx:
            def __enter__(self):
                stages.say(f"[{name}] {label}")
                self.t = time.perf_counter()
                return self

            def __exit__(self, *exc):
                stages.timings[name] = stages.timings.get(name, 0.0) + time.perf_counter() - self.t
                return False

        return _Ctx()

    def total(self) -> float:
        return time.perf_counter() - self._t0


def _bar(total: int, desc: str, progress: bool, unit: str = "it"):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=None if progress else True, dynamic_ncols=True, leave=True)


# ---------------------------------------------------------------------------------------------
# keys and digests
# ---------------------------------------------------------------------------------------------


def _digest(doc) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=repr).encode("utf-8")).hexdigest()


def extraction_key(source_path: str, rb: ResolvedBackbone, spec: Spec) -> dict:
    """Everything that shapes a cache's features; its digest names the cache file."""
    ext = spec.extraction
    prov = rb.provenance
    return {
        "source": os.path.abspath(source_path),
        "model_source": prov["source"],
        "arch": prov["arch"],
        "weights_sha256": prov["weights_sha256"],
        "preprocessing": prov["preprocessing"],
        "layers": list(rb.layers),
        "pool": rb.spec.pool,
        "dtype": ext.dtype,
        "tta": ext.tta,
        "jpeg_draft": ext.jpeg_draft,
        "max_pixels": ext.max_pixels,
    }


def cache_path_for(source_name: str, source_path: str, rb: ResolvedBackbone, spec: Spec) -> str:
    key = _digest(extraction_key(source_path, rb, spec))[:16]
    return os.path.join(spec.cache_folder, f"{source_name}--{rb.spec.name}--{key}.h5")


def features_digest(X: np.ndarray, y: np.ndarray, groups, class_names) -> str:
    h = hashlib.sha256()
    X = np.ascontiguousarray(X, dtype=np.float32)
    h.update(repr(X.shape).encode())
    h.update(X.tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    if groups is not None:
        h.update(json.dumps([str(g) for g in groups]).encode())
    h.update(json.dumps(list(class_names)).encode())
    return h.hexdigest()


def splits_digest(splits) -> str:
    h = hashlib.sha256()
    for train, test in splits:
        h.update(np.asarray(train, dtype=np.int64).tobytes())
        h.update(b"|")
        h.update(np.asarray(test, dtype=np.int64).tobytes())
        h.update(b"#")
    return h.hexdigest()


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("featx", "scikit-learn", "xgboost", "numpy", "scipy"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


# ---------------------------------------------------------------------------------------------
# the result cache (JSON + NPZ, no pickles)
# ---------------------------------------------------------------------------------------------


def _py(value):
    """numpy -> Python, keeping NaN (the cache files are read back by Python's json)."""
    if isinstance(value, dict):
        return {str(k): _py(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_py(v) for v in value]
    if isinstance(value, np.ndarray):
        return _py(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


class ResultCache:
    """Small files under ``folder``: ``<key>.json`` (+ ``<key>.npz`` for arrays), written
    atomically; the JSON is written last, so a present JSON means a complete entry."""

    def __init__(self, folder: str):
        self.folder = folder

    def _paths(self, key: str) -> tuple[str, str]:
        return os.path.join(self.folder, key + ".json"), os.path.join(self.folder, key + ".npz")

    def load(self, key: str):
        jpath, npath = self._paths(key)
        if not os.path.exists(jpath):
            return None
        try:
            with open(jpath, encoding="utf-8") as fh:
                doc = json.load(fh)
            arrays = {}
            if doc.pop("_arrays", False):
                with np.load(npath, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
            return doc, arrays
        except (OSError, ValueError, KeyError):
            return None  # damaged entry: recompute and overwrite

    def save(self, key: str, doc: dict, arrays: dict | None = None) -> None:
        os.makedirs(self.folder, exist_ok=True)
        jpath, npath = self._paths(key)
        doc = dict(doc)
        doc["_arrays"] = bool(arrays)
        if arrays:
            tmp = npath + f".tmp-{os.getpid()}.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, npath)
        tmp = jpath + f".tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(_py(doc), fh)
        os.replace(tmp, jpath)


def _save_cv(cache: ResultCache, key: str, r) -> None:
    doc = {
        "v": CV_CACHE_VERSION, "feature_set": r.feature_set, "head": r.head, "metrics": r.metrics,
        "best_params": r.best_params, "fit_times": r.fit_times, "score_times": r.score_times,
        "class_names": r.class_names, "per_class": r.per_class, "config": r.config,
    }
    arrays = {"confusion": np.asarray(r.confusion), "oof_pred": np.asarray(r.oof_pred)}
    if r.oof_proba is not None:
        arrays["oof_proba"] = np.asarray(r.oof_proba, dtype=np.float32)
    cache.save(key, doc, arrays)


def _load_cv(cache: ResultCache, key: str, fs, splits):
    from featx.classify import CVResult

    got = cache.load(key)
    if got is None:
        return None
    doc, arrays = got
    if doc.get("v") != CV_CACHE_VERSION or "confusion" not in arrays:
        return None

    def nan(m):
        return {k: (math.nan if v is None else v) if k != "folds" else [math.nan if x is None else x for x in v]
                for k, v in m.items()}

    return CVResult(
        feature_set=fs.name, head=doc["head"], metrics={k: nan(v) for k, v in doc["metrics"].items()},
        best_params=doc["best_params"], fit_times=doc["fit_times"], confusion=arrays["confusion"],
        class_names=doc["class_names"], per_class=doc["per_class"], oof_pred=arrays["oof_pred"],
        fold_indices=[(tr, te) for tr, te in splits], meta=dict(fs.meta), config=doc["config"],
        oof_proba=arrays.get("oof_proba"), score_times=doc.get("score_times", []),
    )


# ---------------------------------------------------------------------------------------------
# the job
# ---------------------------------------------------------------------------------------------


def run_job(spec, *, base_dir: str | None = None, output: str | None = None, jobs: int | None = None,
            progress: bool = True, command: str | None = None) -> JobResult:
    """Run the study described by ``spec`` (a TOML path, a dict or a :class:`Spec`).

    ``output`` and ``jobs`` override the spec's; ``command`` is recorded in the report (default:
    a note that the job ran from Python). Raises :class:`SpecError` listing every problem of the
    spec before anything is computed.
    """
    stages = _Stages(progress)
    with stages.run("validate", "checking the spec"):
        spec = load_spec(spec, base_dir=base_dir)
        if output is not None:
            spec = spec.replace(output=os.path.abspath(output))
        if jobs is not None:
            spec = spec.replace(classify=dataclasses.replace(spec.classify, jobs=int(jobs)))
        resolved = check_backbones(spec)
        stages.say("  " + "; ".join(f"{name}: {', '.join(_layer_label(rb, l) for l in rb.layers)}"
                                    for name, rb in resolved.items()))
    # one job per output folder: a second run on it fails fast; a lock left by a killed run is
    # released by the kernel and taken over (see featx.extract._lock)
    with FileLock(spec.output):
        return _run_stages(spec, resolved, stages, progress, command)


def _run_stages(spec: Spec, resolved, stages: "_Stages", progress: bool, command: str | None) -> JobResult:
    os.makedirs(spec.output, exist_ok=True)
    os.makedirs(spec.cache_folder, exist_ok=True)
    _remove_stale_tmp(spec.output, os.path.join(spec.output, "cv-cache"))
    notes = list(spec.notes)
    caught: list[str] = []

    # -- extract --------------------------------------------------------------------------------
    extractions = []
    with stages.run("extract", "extracting features (cached per source x backbone)"):
        previous = _previous_extractions(spec.output)
        for src in spec.sources:
            for b in spec.backbones:
                rb = resolved[b.name]
                path = cache_path_for(src.name, src.path, rb, spec)
                stages.say(f"  {src.name} x {b.name} -> {os.path.relpath(path)}")
                summary = _extract(src, rb, path, spec, progress)
                rec = {
                    "source": src.name, "backbone": b.name, "cache": path, "rows": summary.rows,
                    "extracted": summary.extracted, "reused": summary.reused, "failed": summary.failed,
                    "seconds": summary.seconds, "images_per_second": summary.images_per_second,
                    "device": summary.device, "batch_size": summary.batch_size, "complete": summary.complete,
                }
                if summary.extracted == 0 and path in previous:
                    rec["first_extraction"] = previous[path]
                elif summary.extracted:
                    rec["first_extraction"] = {k: rec[k] for k in ("extracted", "seconds", "images_per_second", "device")}
                extractions.append(rec)
                stages.say("  " + summary.line())
    for rb in resolved.values():  # the networks are not needed any more
        rb.backbone = None

    # -- load ------------------------------------------------------------------------------------
    with stages.run("load", "reading cached features"):
        datasets, feature_sets = _load_features(spec, resolved, extractions, notes)

    # -- cv ----------------------------------------------------------------------------------------
    from featx.classify import Comparison, make_splitter

    cv_cache = ResultCache(os.path.join(spec.output, "cv-cache"))
    comparisons, splits_by_source, records = {}, {}, []
    computed = cached = 0
    total = sum(len(fsets) for fsets in feature_sets.values()) * len(spec.classify.heads)
    with stages.run("cv", f"cross-validating {total} configuration(s) "
                          f"({'nested ' if spec.cv.nested else ''}{spec.cv.scheme}, {spec.cv.folds} folds"
                          f"{f' x {spec.cv.repeats} repeats' if spec.cv.repeats > 1 else ''})"):
        bar = _bar(total, "cv", progress, unit="config")
        try:
            for src in spec.sources:
                fsets = feature_sets[src.name]
                first = fsets[0]
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter("always")
                    splits = make_splitter(first.y, first.groups, folds=spec.cv.folds, repeats=spec.cv.repeats,
                                           seed=spec.cv.seed, class_names=first.class_names)
                caught += [f"{src.name}: {x.message}" for x in w]
                splits_by_source[src.name] = splits
                sdig = splits_digest(splits)
                results = []
                for fs in fsets:
                    fdig = features_digest(fs.X, fs.y, fs.groups, fs.class_names)
                    for head in spec.classify.heads:
                        bar.set_postfix_str(f"{src.name}:{fs.name}/{head}", refresh=True)
                        key = _cv_key(spec, fdig, sdig, head)
                        r = _load_cv(cv_cache, key, fs, splits)
                        if r is None:
                            r = _cross_validate(spec, fs, head, splits, caught)
                            _save_cv(cv_cache, key, r)
                            computed += 1
                            was_cached = False
                        else:
                            cached += 1
                            was_cached = True
                        results.append(r)
                        records.append(_record(src.name, fs, r, was_cached, spec))
                        bar.update(1)
                comparisons[src.name] = Comparison(results=tuple(results), splits=splits)
        finally:
            bar.close()
        stages.say(f"  {computed} computed, {cached} reused from {os.path.relpath(cv_cache.folder)}")

    best = {}
    for src in spec.sources:
        top = comparisons[src.name].best(spec.metrics.main)
        rec = next(r for r in records if r["source"] == src.name and r["feature_set"] == top.feature_set and r["head"] == top.head)
        rec["best"] = True
        best[src.name] = rec

    # -- learning curve ------------------------------------------------------------------------------
    curves = {}
    if spec.report.learning_curve:
        with stages.run("learning_curve", "learning curve of the best configuration"):
            from featx.pipelines._stages import learning_curve

            for src in spec.sources:
                rec = best[src.name]
                fs = next(f for f in feature_sets[src.name] if f.name == rec["feature_set"])
                r = comparisons[src.name].get(fs.name, rec["head"])
                curves[src.name] = learning_curve(spec, fs, r, splits_by_source[src.name], cv_cache, progress)

    # -- pca ----------------------------------------------------------------------------------------
    pca = {}
    if spec.report.pca_plot:
        with stages.run("pca", "PCA explained variance per layer"):
            from featx.pipelines._stages import explained_variance

            for src in spec.sources:
                pca[src.name] = {fs.name: explained_variance(fs, cv_cache) for fs in feature_sets[src.name]}

    # -- report -------------------------------------------------------------------------------------
    from featx.pipelines._report import write_report, write_results_json

    notes += _dedupe(caught)
    command = command or "featx.pipelines.run_job(...) from Python"
    result = JobResult(
        spec=spec, output=spec.output, report_path=os.path.join(spec.output, "report.html"),
        results_path=os.path.join(spec.output, "results.json"), records=tuple(records),
        best=MappingProxyType(best), comparisons=MappingProxyType(comparisons), extractions=tuple(extractions),
        timings=stages.timings, cv_computed=computed, cv_cached=cached,
        learning_curves=MappingProxyType(curves), pca=MappingProxyType(pca),
        datasets=MappingProxyType(datasets), notes=tuple(notes),
    )
    with stages.run("report", "writing report.html and results.json"):
        stages.timings["total"] = stages.total()  # the report shows the time up to itself
        write_report(result, resolved, command=command)
    stages.timings["total"] = stages.total()
    write_results_json(result, resolved, command=command)  # again, with the final timings
    return result


def _remove_stale_tmp(*folders: str) -> None:
    """Delete the temporary files (``*.tmp-PID``: results.json, report.html, cv-cache entries) that
    a killed run left in its own folders. The caller holds the output folder's lock, so no other
    process is writing them; the extraction caches clean up after themselves (featx.extract)."""
    for folder in folders:
        for stale in glob.glob(os.path.join(glob.escape(folder), "*.tmp-*")):
            try:
                os.unlink(stale)
            except OSError:
                pass


def _layer_label(rb: ResolvedBackbone, layer: str) -> str:
    alias = rb.aliases.get(layer, layer)
    return layer if alias == layer else f"{layer} ({alias})"


def _dedupe(items):
    return list(dict.fromkeys(items))


def _previous_extractions(output: str) -> dict:
    path = os.path.join(output, "results.json")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        return {e["cache"]: e["first_extraction"] for e in doc.get("extractions", []) if e.get("first_extraction")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _extract(src, rb: ResolvedBackbone, path: str, spec: Spec, progress: bool):
    from featx.extract import DEFAULT_MAX_PIXELS, extract

    ext = spec.extraction
    return extract(
        src.path, path, model=rb.spec.model, weights=rb.spec.weights, layers=rb.layers, pool=rb.spec.pool,
        batch_size=ext.batch_size, workers=ext.workers, device=ext.device, precision=ext.precision,
        dtype=ext.dtype, tta=ext.tta, overwrite=False, strict=False,
        max_pixels=ext.max_pixels or DEFAULT_MAX_PIXELS, jpeg_draft=ext.jpeg_draft, progress=progress,
        backbone=rb.backbone,
    )


def _load_features(spec: Spec, resolved, extractions, notes):
    """Per source: the FeatureSets of every backbone x layer on the rows every cache holds."""
    from featx.classify import FeatureSet
    from featx.extract import read_cache

    datasets, feature_sets = {}, {}
    for src in spec.sources:
        caches = [(e["backbone"], read_cache(e["cache"])) for e in extractions if e["source"] == src.name]
        common = set(caches[0][1].paths)
        for _, data in caches[1:]:
            common &= set(data.paths)
        if any(len(data.paths) != len(common) for _, data in caches):
            notes.append(f"{src.name}: {max(len(d.paths) for _, d in caches) - len(common)} image(s) failed for some "
                         f"backbones only; every comparison uses the {len(common)} rows all backbones extracted")
        fsets = []
        first = caches[0][1]
        for bname, data in caches:
            keep = np.array([p in common for p in data.paths], dtype=bool)
            paths = np.array(data.paths)[keep]
            order = np.argsort(paths, kind="stable")
            rb = resolved[bname]
            groups = data.groups[keep][order] if (spec.cv.scheme == "grouped" and data.groups is not None) else None
            for layer in rb.layers:
                meta = data.layer_meta(layer)
                meta.update(source=src.name, backbone=bname, layer_as_written=rb.aliases.get(layer, layer),
                            depth=rb.order[layer])
                fsets.append(FeatureSet(
                    name=f"{bname}:{layer}", X=data.features[layer][keep][order], y=data.labels[keep][order],
                    class_names=data.class_names, groups=groups, keys=paths[order], meta=meta,
                ))
        labels = fsets[0].y
        counts = np.bincount(labels[labels >= 0], minlength=len(first.class_names))
        datasets[src.name] = {
            "name": src.name, "path": src.path, "kind": _kind(src.path),
            "rows": int(first.meta.get("cache_rows", len(first.paths))), "used_rows": int(len(labels)),
            "classes": list(first.class_names), "counts": {c: int(n) for c, n in zip(first.class_names, counts)},
            "failures": [list(f) for f in first.failures],
            "groups": int(len(set(first.groups.tolist()))) if first.groups is not None else 0,
        }
        feature_sets[src.name] = fsets
    return datasets, feature_sets


def _kind(path: str) -> str:
    return "manifest" if os.path.isfile(path) else "folder"


def _cv_key(spec: Spec, fdig: str, sdig: str, head: str) -> str:
    from featx.classify import resolve_grid

    c, cv = spec.classify, spec.cv
    grid = resolve_grid(head, c.grid_overrides(head), pca=c.pca_for(head), probability=c.probability) if cv.nested else None
    return _digest({
        "kind": "cv", "v": CV_CACHE_VERSION, "features": fdig, "splits": sdig, "head": head, "pca": c.pca_for(head),
        "whiten": c.whiten, "probability": c.probability, "nested": cv.nested,
        "inner_folds": cv.inner_folds if cv.nested else None, "search": cv.search if cv.nested else None,
        "n_iter": cv.n_iter if cv.nested and cv.search == "random" else None, "grid": grid, "seed": cv.seed,
        "versions": _versions(),
    })


def _cross_validate(spec: Spec, fs, head: str, splits, caught: list):
    from featx.classify import cross_validate_head

    c, cv = spec.classify, spec.cv
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        r = cross_validate_head(
            fs, head, pca=c.pca_for(head), whiten=c.whiten, seed=cv.seed, nested=cv.nested,
            inner_folds=cv.inner_folds, search=cv.search, n_iter=cv.n_iter,
            grid=c.grid_overrides(head) if cv.nested else None, jobs=c.jobs, splits=splits,
            probability=c.probability,
        )
    for x in w:
        text = str(x.message).splitlines()[0][:200]
        if x.category.__name__ in ("ConvergenceWarning", "ClassifyWarning", "UserWarning"):
            caught.append(f"{fs.name}/{head}: {x.category.__name__}: {text}")
    return r


def most_common_params(best_params: list) -> tuple[dict, int]:
    """The hyperparameters chosen most often over the outer folds, and how often."""
    if not best_params:
        return {}, 0
    counts = collections.Counter(json.dumps(p, sort_keys=True) for p in best_params)
    text, n = counts.most_common(1)[0]
    return json.loads(text), n


def _record(source: str, fs, r, was_cached: bool, spec: Spec) -> dict:
    rec = {"source": source, "backbone": fs.meta["backbone"], "model": fs.meta.get("model"),
           "layer": fs.name.split(":", 1)[1], "layer_as_written": fs.meta.get("layer_as_written"),
           "depth": fs.meta.get("depth"), "feature_dim": fs.n_features}
    rec.update(r.summary_record())
    params, n = most_common_params(r.best_params)
    rec["params_mode"] = params
    rec["params_mode_folds"] = n
    grid = r.config.get("grid") or {}
    rec["searched_params"] = sorted(k for k, v in grid.items() if not isinstance(v, (list, tuple)) or len(v) > 1)
    rec["cached"] = was_cached
    rec["best"] = False
    return rec


def run_demo(data_dir: str = "data", output: str = os.path.join("featx-out", "demo"), *, per_class: int | None = None,
             layers=None, heads=None, progress: bool = True, command: str | None = None, jobs: int | None = None) -> JobResult:
    """The built-in demo: scikit-learn's digits as PNG class folders under ``data_dir``, then
    :func:`demo_spec` through :func:`run_job`."""
    from featx.pipelines._demo import write_digits

    folder = os.path.join(data_dir, "digits" if per_class is None else f"digits-{per_class}")
    write_digits(folder, per_class=per_class)
    spec = demo_spec(folder, output, per_class=per_class, layers=layers, heads=heads)
    return run_job(spec, progress=progress, command=command, jobs=jobs)


DEMO_LAYERS = ("blocks.4", "penultimate")


def demo_spec(folder: str, output: str, *, per_class: int | None = None, layers=None, heads=None) -> dict:
    """The demo study as a spec dict (see docs/spec.md); printed into the report as TOML."""
    notes = [
        "Demo: scikit-learn's bundled handwritten digits (8x8 pixels, upscaled to 32x32 PNGs) through the "
        "offline ImageNet backbone efficientnet_lite0 at its own 224 px preprocessing.",
        "To fit the 10-minute budget on a 2-core CPU the demo narrows the search (two candidates per head, "
        "2 inner folds, 100 trees for rf, 50 boosting rounds for xgb) and gives xgb a 32-component PCA; the other "
        "heads see the features without PCA. Specs that do not override these use featx.classify's defaults "
        "(3 inner folds, the full grids).",
    ]
    if per_class is not None:
        notes.append(f"Stratified subset: the first {per_class} images of each class.")
    return {
        "title": "featx demo: handwritten digits" + (f" ({per_class} per class)" if per_class else ""),
        "output": os.path.abspath(output),
        "notes": notes,
        "sources": [{"name": "digits", "path": os.path.abspath(folder)}],
        "backbones": [{"name": "efficientnet_lite0", "model": "efficientnet_lite0", "weights": "default",
                       "layers": list(layers or DEMO_LAYERS), "pool": "avg"}],
        "extraction": {"batch_size": 64, "dtype": "float16"},
        "classify": {
            "heads": list(heads or ("logreg", "svm", "rf", "xgb")),
            "pca": "off",
            "head_pca": {h: 32 for h in (heads or ("xgb",)) if h == "xgb"},
            "jobs": -1,
            "grids": _demo_grids(heads or ("logreg", "svm", "rf", "xgb")),
        },
        "cv": {"scheme": "stratified", "nested": True, "folds": 5, "inner_folds": 2, "seed": 0},
        "metrics": {"main": "balanced_accuracy", "show": ["balanced_accuracy", "accuracy", "f1_macro", "roc_auc"]},
        "report": {"learning_curve": True, "fractions": [0.1, 0.25, 0.5, 0.75, 1.0]},
    }


def _demo_grids(heads) -> dict:
    grids = {
        "logreg": {"clf__C": [0.1, 1.0]},
        "svm": {"clf__C": [0.001, 0.01]},
        "rf": {"clf__n_estimators": [100], "clf__max_depth": ["none"], "clf__max_features": ["sqrt", "log2"],
               "clf__min_samples_leaf": [1]},
        "xgb": {"clf__n_estimators": [50], "clf__max_depth": [3], "clf__learning_rate": [0.1, 0.3]},
    }
    return {h: g for h, g in grids.items() if h in heads}


__all__ = ["JobResult", "run_job", "run_demo", "demo_spec"]
