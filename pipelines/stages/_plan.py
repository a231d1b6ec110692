"""The stages of ``featx run``, in order (:func:`job_stages`), each a
:class:`~featx.pipelines.stages._pipeline.Stage` with the context names it reads and adds.

The job provides ``spec``, ``resolved`` (its backbones), ``client`` (a Dask client or None),
``progress``, ``say``, ``runner`` (the job's Stages), ``command``, ``cv_cache`` (the output
folder's ResultCache), ``notes`` and ``caught`` (lists the stages append to, for the report)."""

from __future__ import annotations

import os
from types import MappingProxyType

from featx.pipelines.stages._pipeline import Stage

#: what the job puts into the context before the first stage
GIVEN = ("spec", "resolved", "client", "progress", "say", "runner", "command", "cv_cache", "notes", "caught")


def _extract(ctx) -> dict:
    from featx.pipelines.stages._extract import extract_all

    extractions = extract_all(ctx["spec"], ctx["resolved"], ctx["runner"], ctx["progress"], ctx["client"])
    for rb in ctx["resolved"].values():  # the networks are not needed any more
        rb.backbone = None
    return {"extractions": extractions}


def _load(ctx) -> dict:
    from featx.pipelines.stages._audit import dedupe_line
    from featx.pipelines.stages._load import load_features

    datasets, feature_sets, audit_info = load_features(ctx["spec"], ctx["resolved"], ctx["extractions"], ctx["notes"])
    for name, info in audit_info.items():
        ctx["say"](dedupe_line(name, info))
    return {"datasets": datasets, "feature_sets": feature_sets, "audit_info": audit_info}


def _cv_count(ctx) -> int:
    return sum(len(fsets) for fsets in ctx["feature_sets"].values()) * len(ctx["spec"].classify.heads)


def _cv_title(ctx) -> str:
    from featx.pipelines.stages._audit import cv_scheme_text

    return f"cross-validating {_cv_count(ctx)} configuration(s) ({cv_scheme_text(ctx['spec'], ctx['audit_info'])})"


def _cv(ctx) -> dict:
    from featx.common.progress import progress_bar
    from featx.pipelines.stages._cv import cv_all, pick_best

    spec, cv_cache = ctx["spec"], ctx["cv_cache"]
    comparisons, records, counts = cv_all(spec, ctx["feature_sets"], cv_cache, ctx["caught"],
                                          progress_bar(_cv_count(ctx), "cv", ctx["progress"], "config"), ctx["client"], ctx["say"])
    ctx["say"](f"  {counts['computed']} computed, {counts['cached']} reused from {os.path.relpath(cv_cache.folder)}")
    return {"comparisons": comparisons, "records": records, "cv_counts": counts,
            "best": pick_best(spec, comparisons, records)}


def _audit(ctx) -> dict:
    from featx.pipelines.stages._audit import audit_all

    return {"audits": audit_all(ctx["spec"], ctx["feature_sets"], ctx["comparisons"], ctx["best"], ctx["audit_info"],
                                ctx["cv_cache"], ctx["caught"], ctx["client"])}


def _explore(ctx) -> dict:
    from featx.pipelines.stages._explore import write_explore_pages

    return {"explore_pages": write_explore_pages(ctx["spec"], ctx["feature_sets"], ctx["best"], ctx["audits"], say=ctx["say"])}


def _best_of(ctx, source: str):
    rec = ctx["best"][source]
    fs = next(f for f in ctx["feature_sets"][source] if f.name == rec["feature_set"])
    return fs, ctx["comparisons"][source].get(fs.name, rec["head"])


def _learning_curve(ctx) -> dict:
    from featx.pipelines.stages._stages import cached_learning_curve

    curves = {}
    for src in ctx["spec"].sources:
        fs, result = _best_of(ctx, src.name)
        curves[src.name] = cached_learning_curve(ctx["spec"], fs, result, ctx["comparisons"][src.name].splits,
                                                 ctx["cv_cache"], ctx["progress"])
    return {"learning_curves": curves}


def _pca(ctx) -> dict:
    from featx.pipelines.stages._stages import cached_explained_variance

    return {"pca": {src.name: {fs.name: cached_explained_variance(fs, ctx["cv_cache"]) for fs in ctx["feature_sets"][src.name]}
                    for src in ctx["spec"].sources}}


def _logme(ctx) -> dict:
    from featx.pipelines.report._logme import logme_rankings

    return {"logme": logme_rankings(ctx["feature_sets"], ctx["comparisons"], ctx["spec"].metrics.main)}


def _transfer(ctx) -> dict:
    from featx.pipelines.stages._transfer import run_transfer

    return {"transfer": run_transfer(ctx["spec"], ctx["feature_sets"], ctx["runner"], ctx["progress"], ctx["caught"])}


def _report(ctx) -> dict:
    """The JobResult of the context, drawn as report.html and results.json (written again by the
    job after this stage, with the final timings)."""
    from featx.pipelines.report._report import write_report
    from featx.pipelines.stages._result import JobResult

    spec, runner = ctx["spec"], ctx["runner"]
    result = JobResult(
        spec=spec, output=spec.output, report_path=os.path.join(spec.output, "report.html"),
        results_path=os.path.join(spec.output, "results.json"), records=tuple(ctx["records"]),
        best=MappingProxyType(ctx["best"]), comparisons=MappingProxyType(ctx["comparisons"]),
        extractions=tuple(ctx["extractions"]), timings=runner.timings, cv_computed=ctx["cv_counts"]["computed"],
        cv_cached=ctx["cv_counts"]["cached"], learning_curves=MappingProxyType(ctx["learning_curves"]),
        pca=MappingProxyType(ctx["pca"]), datasets=MappingProxyType(ctx["datasets"]),
        notes=tuple(ctx["notes"] + list(dict.fromkeys(ctx["caught"]))), audits=MappingProxyType(ctx["audits"]),
        transfer=MappingProxyType(ctx["transfer"]), logme=MappingProxyType(ctx["logme"]),
    )
    runner.timings["total"] = runner.total()  # the report shows the time up to itself
    write_report(result, ctx["resolved"], command=ctx["command"])
    return {"result": result}


def job_stages() -> list[Stage]:
    """The stages of ``featx run``, in the order they run (sources -> extraction -> feature sets
    -> cv -> audit -> explore -> learning curve, PCA, LogME -> transfer -> report)."""
    return [
        Stage("extract", "extracting features (cached per source x backbone)", _extract,
              inputs=("spec", "resolved", "client", "progress", "runner"), outputs=("extractions",),
              cache="<cache_folder>/SOURCE--BACKBONE--KEY.h5, KEY from stages._keys.extraction_key"),
        Stage("load", "reading cached features", _load,
              inputs=("spec", "resolved", "extractions", "notes", "say"), outputs=("datasets", "feature_sets", "audit_info")),
        Stage("cv", _cv_title, _cv, inputs=("spec", "feature_sets", "audit_info", "cv_cache", "caught", "client", "say",
                                            "progress"),
              outputs=("comparisons", "records", "cv_counts", "best"),
              cache="<output>/cv-cache/KEY.json, KEY from stages._keys.cv_key"),
        Stage("audit", "auditing the best configuration (fold leaks, label issues, outliers, calibration)", _audit,
              inputs=("spec", "feature_sets", "comparisons", "best", "audit_info", "cv_cache", "caught", "client"),
              outputs=("audits",), cache="its CV reruns: <output>/cv-cache, as cv"),
        Stage("explore", "writing the explorer page (explore.html) of each source", _explore,
              inputs=("spec", "feature_sets", "best", "audits", "say"), outputs=("explore_pages",)),
        Stage("learning_curve", "learning curve of the best configuration", _learning_curve,
              inputs=("spec", "best", "feature_sets", "comparisons", "cv_cache", "progress"), outputs=("learning_curves",),
              enabled=lambda spec: spec.report.learning_curve, cache="<output>/cv-cache (kind learning_curve)"),
        Stage("pca", "PCA explained variance per layer", _pca, inputs=("spec", "feature_sets", "cv_cache"),
              outputs=("pca",), enabled=lambda spec: spec.report.pca_plot, cache="<output>/cv-cache (kind pca)"),
        Stage("logme", "LogME pre-screen of every feature set (no CV)", _logme,
              inputs=("spec", "feature_sets", "comparisons"), outputs=("logme",)),
        Stage("transfer", "transfer study: frozen vs fine-tuned vs scratch on the same held-out rows", _transfer,
              inputs=("spec", "feature_sets", "runner", "progress", "caught"), outputs=("transfer",),
              enabled=lambda spec: spec.finetune is not None, cache="<output>/transfer-cache/KEY.json (held-out scores); checkpoints in <output>/transfer"),
        Stage("report", "writing report.html and results.json", _report,
              inputs=("spec", "runner", "resolved", "command", "records", "best", "comparisons", "extractions", "cv_counts",
                      "learning_curves", "pca", "datasets", "notes", "caught", "audits", "transfer", "logme"),
              outputs=("result",)),
    ]
