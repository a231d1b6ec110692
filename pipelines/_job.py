"""``run_job``: one declarative study from images to a report.

Stages (each timed, each reusing what an earlier run left behind):

1. validate - :func:`load_spec` (cheap checks) then :func:`check_backbones` (builds every
   backbone once and dry-runs its layers); all problems are raised at once as ``SpecError``.
2. extract - one HDF5 cache per (source, backbone), named by a key of everything that shapes the
   features (``_keys``); featx.extract resumes, updates changed images and does no model work on
   a complete cache.
3. cv - every source x backbone x layer x head on the same seeded folds; each result is stored in
   ``<output>/cv-cache`` under a key of (features digest, head, grid, PCA, CV settings, library
   versions), so rerunning after adding a head fits only that head.
4. learning curve (best configuration per source) and PCA explained variance, cached the same way.
5. report - ``results.json`` and a self-contained ``report.html``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Mapping
from types import MappingProxyType

from featx.classify import features_digest, most_common_params, splits_digest
from featx.common.cluster import connect, describe, require_distributed
from featx.common.files import remove_stale_tmp_in
from featx.common.stages import Stages
from featx.common.files import FileLock
from featx.pipelines.stages._audit import cv_scheme_text, dedupe_line
from featx.pipelines.stages._cv import cross_validate_configs, cross_validate_one
from featx.pipelines.stages._keys import cache_path_for, cv_key
from featx.pipelines._spec import Spec, check_backbones, load_spec
from featx.pipelines.stages._stages import (ResultCache, cached_cv, cached_explained_variance, cached_learning_curve, load_cv,
                                     progress_bar, store_cv)


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
    audits: Mapping = dataclasses.field(default_factory=dict)
    transfer: Mapping = dataclasses.field(default_factory=dict)  # the [finetune] study (pipelines._transfer_stage)
    logme: Mapping = dataclasses.field(default_factory=dict)  # source -> LogMERanking (pipelines._report_logme)

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
        from featx.classify import describe_transfer

        for source, verdict in (self.transfer.get("verdicts") or {}).items():
            if verdict.get("winner"):  # the [finetune] study's winner on the held-out rows
                w = verdict["winner"]
                lines.append(f"transfer [{source}]: {describe_transfer(w)} wins, held-out {main} {_fmt(w[f'{main}_mean'])} "
                             f"(95% CI {_fmt(w[f'{main}_ci95_low'])}-{_fmt(w[f'{main}_ci95_high'])})")
        lines.append(f"report: {self.report_path}")
        return lines


def _fmt(v, digits=3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def run_job(spec, *, base_dir: str | None = None, output: str | None = None, jobs: int | None = None,
            progress: bool = True, command: str | None = None, cluster=None) -> JobResult:
    """Run the study described by ``spec`` (a TOML path, a dict or a :class:`Spec`).

    ``output``, ``jobs`` and ``cluster`` (``'local:N'``, a scheduler address or a
    ``distributed.Client``) override the spec's; ``command`` is recorded in the report (default:
    a note that the job ran from Python). Raises :class:`SpecError` listing every problem of the
    spec before anything is computed.
    """
    stages = Stages(progress)
    with stages.run("validate", "checking the spec"):
        spec = load_spec(spec, base_dir=base_dir)
        if output is not None:
            spec = spec.replace(output=os.path.abspath(output))
        if jobs is not None:
            spec = spec.replace(classify=dataclasses.replace(spec.classify, jobs=int(jobs)))
        cluster = spec.cluster if cluster is None else cluster
        if cluster is not None:
            require_distributed()  # a missing dask fails before any model is built
        resolved = check_backbones(spec)
        stages.say("  " + "; ".join(f"{name}: {', '.join(rb.label(l) for l in rb.layers)}"
                                    for name, rb in resolved.items()))
    # one job per output folder: a second run on it fails fast; a lock left by a killed run is
    # released by the kernel and taken over (see featx.common.files.FileLock); one cluster for the
    # whole job (a 'local:N' one is started once, and closed at the end)
    with FileLock(spec.output), connect(cluster) as client:
        if client is not None:
            stages.say(f"  on a Dask cluster: {describe(client)}")
        return _run_stages(spec, resolved, stages, progress, command, client)


def _run_stages(spec: Spec, resolved, stages: Stages, progress: bool, command: str | None, client=None) -> JobResult:
    os.makedirs(spec.cache_folder, exist_ok=True)
    cv_cache = ResultCache(os.path.join(spec.output, "cv-cache"))
    # temporary files a killed run left (results.json, report.html, plots, cv-cache entries); this
    # process holds the output folder's lock, and the extraction caches clean up after themselves
    for folder in (spec.output, cv_cache.folder, os.path.join(spec.output, "plots")):
        remove_stale_tmp_in(folder)
    notes: list[str] = list(spec.notes)
    caught: list[str] = []

    with stages.run("extract", "extracting features (cached per source x backbone)"):
        extractions = _extract_all(spec, resolved, stages, progress, client)
    for rb in resolved.values():  # the networks are not needed any more
        rb.backbone = None

    with stages.run("load", "reading cached features"):
        datasets, feature_sets, audit_info = _load_features(spec, resolved, extractions, notes)
        for name, info in audit_info.items():
            stages.say(dedupe_line(name, info))

    total = sum(len(fsets) for fsets in feature_sets.values()) * len(spec.classify.heads)
    with stages.run("cv", f"cross-validating {total} configuration(s) ({cv_scheme_text(spec, audit_info)})"):
        comparisons, records, counts = _cv_all(spec, feature_sets, cv_cache, caught, progress_bar(total, "cv", progress, "config"),
                                               client, stages.say)
        stages.say(f"  {counts['computed']} computed, {counts['cached']} reused from {os.path.relpath(cv_cache.folder)}")
    best = _pick_best(spec, comparisons, records)
    with stages.run("audit", "auditing the best configuration (fold leaks, label issues, outliers, calibration)"):
        audits = _audit_all(spec, feature_sets, comparisons, best, audit_info, cv_cache, caught, client)
    with stages.run("explore", "writing the explorer page (explore.html) of each source"):
        from featx.pipelines.stages._explore import write_explore_pages

        write_explore_pages(spec, feature_sets, best, audits, say=stages.say)

    curves = {}
    if spec.report.learning_curve:
        with stages.run("learning_curve", "learning curve of the best configuration"):
            for src in spec.sources:
                rec = best[src.name]
                fs = next(f for f in feature_sets[src.name] if f.name == rec["feature_set"])
                result = comparisons[src.name].get(fs.name, rec["head"])
                curves[src.name] = cached_learning_curve(spec, fs, result, comparisons[src.name].splits, cv_cache, progress)
    pca = {}
    if spec.report.pca_plot:
        with stages.run("pca", "PCA explained variance per layer"):
            for src in spec.sources:
                pca[src.name] = {fs.name: cached_explained_variance(fs, cv_cache) for fs in feature_sets[src.name]}

    with stages.run("logme", "LogME pre-screen of every feature set (no CV)"):
        from featx.pipelines.report._logme import logme_rankings

        logme = logme_rankings(feature_sets, comparisons, spec.metrics.main)
    transfer = {}
    if spec.finetune is not None:
        from featx.pipelines.stages._transfer import run_transfer

        with stages.run("transfer", "transfer study: frozen vs fine-tuned vs scratch on the same held-out rows"):
            transfer = run_transfer(spec, feature_sets, stages, progress, caught)

    from featx.pipelines.report._report import write_report, write_results_json

    command = command or "featx.pipelines.run_job(...) from Python"
    result = JobResult(
        spec=spec, output=spec.output, report_path=os.path.join(spec.output, "report.html"),
        results_path=os.path.join(spec.output, "results.json"), records=tuple(records),
        best=MappingProxyType(best), comparisons=MappingProxyType(comparisons), extractions=tuple(extractions),
        timings=stages.timings, cv_computed=counts["computed"], cv_cached=counts["cached"],
        learning_curves=MappingProxyType(curves), pca=MappingProxyType(pca),
        datasets=MappingProxyType(datasets), notes=tuple(notes + list(dict.fromkeys(caught))),
        audits=MappingProxyType(audits), transfer=MappingProxyType(transfer), logme=MappingProxyType(logme),
    )
    with stages.run("report", "writing report.html and results.json"):
        stages.timings["total"] = stages.total()  # the report shows the time up to itself
        write_report(result, resolved, command=command)
    stages.timings["total"] = stages.total()
    write_results_json(result, resolved, command=command)  # again, with the final timings
    return result


# -- extract ----------------------------------------------------------------------------------


def _extract_all(spec: Spec, resolved, stages: Stages, progress: bool, client=None) -> list[dict]:
    """One cache per (source, backbone); each record keeps the first extraction's speed. On a
    cluster, each cache is written in shards by the workers and joined (featx.extract)."""
    from featx.extract import extract

    previous = _previous_extractions(spec.output)
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


def _previous_extractions(output: str) -> dict:
    try:
        with open(os.path.join(output, "results.json"), encoding="utf-8") as fh:
            doc = json.load(fh)
        return {e["cache"]: e["first_extraction"] for e in doc.get("extractions", []) if e.get("first_extraction")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


# -- load -------------------------------------------------------------------------------------


def _load_features(spec: Spec, resolved, extractions, notes: list):
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


# -- cv ---------------------------------------------------------------------------------------


def _cv_all(spec: Spec, feature_sets, cv_cache: ResultCache, caught: list, bar, client=None, say=print):
    """Every head on every feature set of every source, on the source's one set of folds: the
    configurations the cv-cache lacks are run together (one submission, one pool or the
    cluster), then stored."""
    from featx.classify import Comparison, make_splitter

    plan, todo = [], []  # per source (name, splits, entries); the entries to compute
    try:
        for src in spec.sources:
            fsets = feature_sets[src.name]
            first = fsets[0]
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                splits = make_splitter(first.y, first.groups, folds=spec.cv.folds, repeats=spec.cv.repeats,
                                       seed=spec.cv.seed, class_names=first.class_names)
            caught += [f"{src.name}: {x.message}" for x in w]
            sdig = splits_digest(splits)
            entries = []
            for fs in fsets:
                fdig = features_digest(fs)
                for head in spec.classify.heads:
                    key = cv_key(spec, fdig, sdig, head)
                    entry = {"fs": fs, "head": head, "splits": splits, "key": key, "result": load_cv(cv_cache, key, fs)}
                    entry["cached"] = entry["result"] is not None
                    if entry["cached"]:
                        bar.update(1)
                    else:
                        todo.append(entry)
                    entries.append(entry)
            plan.append((src.name, splits, entries))

        def done(i, result):  # stored at once: a killed run keeps every configuration it finished
            store_cv(cv_cache, todo[i]["key"], result)
            todo[i]["result"] = result
            bar.set_postfix_str(f"{todo[i]['fs'].name}/{todo[i]['head']}", refresh=False)
            bar.update(1)

        cross_validate_configs(spec, [(e["fs"], e["head"], e["splits"]) for e in todo], caught, client, on_result=done,
                            report=lambda run: say(f"  cluster: {run.line()}"))
    finally:
        bar.close()
    comparisons, records = {}, []
    for name, splits, entries in plan:
        records += [_record(name, e["fs"], e["result"], e["cached"]) for e in entries]
        comparisons[name] = Comparison(results=tuple(e["result"] for e in entries), splits=splits)
    return comparisons, records, {"computed": len(todo), "cached": sum(len(p[2]) for p in plan) - len(todo)}


def _audit_all(spec: Spec, feature_sets, comparisons, best, audit_info, cv_cache: ResultCache, caught: list, client=None) -> dict:
    """Per source, the audit of its best configuration (``featx.pipelines.stages._audit``); the
    rerun on the other folds (with / without leak-proof groups) is cached like every CV."""
    from featx.pipelines.stages._audit import audit_best

    audits = {}
    for src in spec.sources:
        rec = best[src.name]
        fs = next(f for f in feature_sets[src.name] if f.name == rec["feature_set"])
        result = comparisons[src.name].get(fs.name, rec["head"])

        def rerun(f, splits, head=rec["head"]):
            key = cv_key(spec, features_digest(f), splits_digest(splits), head)
            return cached_cv(cv_cache, key, f, lambda: cross_validate_one(spec, f, head, splits, caught, client))[0]

        audits[src.name] = audit_best(spec, fs, result, comparisons[src.name].splits, audit_info[src.name], rerun)
    return audits


def _record(source: str, fs, r, was_cached: bool) -> dict:
    rec = {"source": source, "backbone": fs.meta["backbone"], "model": fs.meta.get("model"),
           "layer": fs.name.split(":", 1)[1], "layer_as_written": fs.meta.get("layer_as_written"),
           "depth": fs.meta.get("depth"), "feature_dim": fs.n_features}
    rec.update(r.summary_record())
    rec["params_mode"], rec["params_mode_folds"] = most_common_params(r.best_params)
    grid = r.config.get("grid") or {}
    rec["searched_params"] = sorted(k for k, v in grid.items() if not isinstance(v, (list, tuple)) or len(v) > 1)
    rec["cached"] = was_cached
    rec["best"] = False
    return rec


def _pick_best(spec: Spec, comparisons, records) -> dict:
    """Each source's best record by ``metrics.main`` (marked ``best``)."""
    best = {}
    for src in spec.sources:
        top = comparisons[src.name].best(spec.metrics.main)
        rec = next(r for r in records if r["source"] == src.name and r["feature_set"] == top.feature_set and r["head"] == top.head)
        rec["best"] = True
        best[src.name] = rec
    return best


__all__ = ["JobResult", "run_job"]
