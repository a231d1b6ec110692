"""The audit part of ``featx run``: exact copies and near-duplicates of each source's rows before
CV (``cv.conflicts``, ``cv.dedupe``), and after CV the audit of the best configuration (fold
leaks, the score with and without leak-proof grouping, label issues, outliers, calibration and a
2-D map) that the report's Audit section shows."""

from __future__ import annotations

import dataclasses

import numpy as np


def dedupe_rows(cv, aligned: list, data) -> tuple[list, list[str], dict]:
    """``aligned`` feature sets (rows keyed by path) -> the sets to cross-validate (conflicting
    copies left out unless ``cv.conflicts == "keep"``; copies, and with ``cv.dedupe == "group"``
    near-duplicates, as CV groups merged with the sets' groups), notes for the report, and what
    the audit stage needs (``paths``, ``exact``, ``near``, ``base_groups``, ``mode``)."""
    from featx.classify.audits import cluster_rows, leak_groups, plan_duplicates
    from featx.pipelines._glue import image_scan, source_root

    first = aligned[0]
    paths = [str(p) for p in first.keys.tolist()]
    sha_of = dict(zip(data.paths, data.hashes.tolist()))
    hashes = np.array([sha_of[p] for p in paths])
    plan = plan_duplicates(hashes, first.y, groups=first.groups, paths=paths, conflicts=cv.conflicts)
    notes = [plan.message(paths)] if plan.clusters else []
    keep = plan.keep
    kept = [fs.subset(np.flatnonzero(keep)) for fs in aligned] if not keep.all() else list(aligned)
    paths = [p for p, k in zip(paths, keep) if k]
    base = None if plan.groups is None else plan.groups[keep]
    phash, stats = image_scan(data.path, paths)  # one detector: the audit's, whatever cv.dedupe says
    exact, near = cluster_rows(kept[0].X, sha256=hashes[keep], phash=phash)
    groups = base
    if cv.dedupe == "group" and near:
        groups = leak_groups(len(paths), [], near, base)
        notes.append(f"cv.dedupe = 'group': {len(near)} near-duplicate cluster(s) kept in one CV group each")
    if groups is not None:
        kept = [dataclasses.replace(fs, groups=groups) for fs in kept]
    info = {"paths": paths, "exact": exact, "near": near, "base_groups": base, "mode": cv.dedupe,
            "with_hashes": phash is not None, "root": source_root(data.path), "image_stats": stats,
            "dropped": int((~keep).sum()), "grouped": len(near) if cv.dedupe == "group" else 0}
    return kept, notes, info


def dedupe_line(source: str, info: dict) -> str:
    """The job's one line of what the dedupe step did to ``source``'s rows (both modes)."""
    near = len(info["near"])
    done = (f"{info['grouped']} near-duplicate cluster(s) grouped (each in one CV group)" if info["mode"] == "group"
            else f"{near} near-duplicate cluster(s) found, not grouped (cv.dedupe = '{info['mode']}')")
    n = info["dropped"]
    return f"  {source}: dropped {n} exact cop{'y' if n == 1 else 'ies'} with conflicting labels; {done}"


def cv_scheme_text(spec, audit_info: dict) -> str:
    """How the cv stage splits the rows, for its header: the spec's scheme, or the near-duplicate
    clusters that ``cv.dedupe = "group"`` made CV groups of."""
    cv = spec.cv
    grouped = sum(info.get("grouped", 0) for info in audit_info.values())
    how = f"grouped by {grouped} near-duplicate cluster(s)" if grouped else cv.scheme
    return (f"{'nested ' if cv.nested else ''}{how}, {cv.folds} folds"
            f"{f' x {cv.repeats} repeats' if cv.repeats > 1 else ''}")


def audit_best(spec, fs, result, splits, info: dict, cross_validate) -> dict:
    """The Audit section's data for one source: ``fs``/``result`` are its best configuration,
    ``splits`` the folds every configuration used; ``cross_validate(fs, splits)`` reruns that
    configuration on other folds (for the score with and without leak-proof grouping). Its
    ``findings`` (the built-in audit checks' ``featx audit --json`` shape) are what results.json
    and the report's galleries read."""
    from featx.classify import audit_configuration

    found = audit_configuration(fs, result, splits, exact=info["exact"], near=info["near"], cross_validate=cross_validate,
                                base_groups=info["base_groups"], mode=info["mode"], folds=spec.cv.folds,
                                repeats=spec.cv.repeats, seed=spec.cv.seed, metric=spec.metrics.main,
                                paths=info["paths"], image_stats=info.get("image_stats"))
    return {**found, "paths": info["paths"], "root": info["root"]}


def audit_all(spec, feature_sets, comparisons, best, audit_info, cv_cache, caught: list, client=None) -> dict:
    """Per source, the audit of its best configuration (``featx.pipelines.stages._audit``); the
    rerun on the other folds (with / without leak-proof groups) is cached like every CV."""
    from featx.classify.cv import features_digest, splits_digest

    from featx.pipelines.stages._cv import cross_validate_one
    from featx.pipelines.stages._keys import cv_key
    from featx.pipelines.stages._stages import cached_cv

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
