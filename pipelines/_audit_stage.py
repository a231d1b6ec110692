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
    from featx.classify import exact_clusters, leak_groups, near_duplicates, plan_duplicates
    from featx.pipelines._cmd_audit import image_hashes

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
    phash = None
    if cv.dedupe == "group":
        hashed = image_hashes(data)
        if hashed is not None:
            pos = {p: i for i, p in enumerate(data.paths)}
            take = np.array([pos[p] for p in paths])
            phash = tuple(a[take] for a in hashed)
    hashes_kept = hashes[keep]
    h, m, ok = phash if phash is not None else (None, None, None)
    near = [(rows, sim) for rows, sim in near_duplicates(kept[0].X, hashes=h, mirrored=m, hash_ok=ok)
            if np.unique(hashes_kept[rows]).size > 1]
    exact = exact_clusters(hashes_kept)
    groups = base
    if cv.dedupe == "group" and near:
        groups = leak_groups(len(paths), [], near, base)
        notes.append(f"cv.dedupe = 'group': {len(near)} near-duplicate cluster(s) kept in one CV group each")
    if groups is not None:
        kept = [dataclasses.replace(fs, groups=groups) for fs in kept]
    from featx.extract import cache_info

    root = (cache_info(data.path).get("source") or {}).get("root") or ""
    info = {"paths": paths, "exact": exact, "near": near, "base_groups": base, "mode": cv.dedupe,
            "with_hashes": phash is not None, "root": root}
    return kept, notes, info


def audit_best(spec, fs, result, splits, info: dict, cross_validate) -> dict:
    """The Audit section's data for one source: ``fs``/``result`` are its best configuration,
    ``splits`` the folds every configuration used; ``cross_validate(fs, splits)`` reruns that
    configuration on other folds (for the score with and without leak-proof grouping)."""
    import warnings

    from featx.classify import (
        ClassifyWarning,
        SplitError,
        calibration,
        find_label_issues,
        knn_outliers,
        leak_groups,
        make_splitter,
        map_2d,
        straddling,
    )

    clusters = list(info["exact"]) + [rows for rows, _ in info["near"]]
    n_straddling = straddling(clusters, splits)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassifyWarning)
        if info["mode"] == "group":  # the folds used are leak-proof; the other score has no near groups
            other_groups = info["base_groups"]
        else:
            other_groups = leak_groups(fs.n_samples, info["exact"], info["near"], info["base_groups"])
        try:
            other = make_splitter(fs.y, other_groups, folds=spec.cv.folds, repeats=spec.cv.repeats, seed=spec.cv.seed,
                                  class_names=fs.class_names)
        except SplitError as exc:  # e.g. the clusters join a whole class into one group
            other, why = None, str(exc)
    other_score = None if other is None else cross_validate(dataclasses.replace(fs, groups=other_groups), other).mean(spec.metrics.main)
    score = result.mean(spec.metrics.main)
    grouped, ungrouped = (score, other_score) if info["mode"] == "group" else (other_score, score)
    out = {"leak": {"straddling_clusters": int(n_straddling), "score_grouped": grouped, "score_ungrouped": ungrouped,
                    "metric": spec.metrics.main, "mode": info["mode"],
                    "unavailable": None if other is not None else f"the other folds cannot be made: {why}"},
           "paths": info["paths"], "root": info["root"], "class_names": list(fs.class_names), "labels": fs.y.tolist(),
           "exact": [c.tolist() for c in info["exact"]],
           "near": [{"rows": rows.tolist(), "min_similarity": float(sim)} for rows, sim in info["near"]],
           "oof_pred": result.oof_pred[0].tolist(), "label_issues": [], "calibration": None}
    if result.oof_proba is not None and not np.isnan(result.oof_proba).any():
        proba = np.nanmean(result.oof_proba, axis=0)
        issues = find_label_issues(fs.y, proba)
        out["label_issues"] = [{"row": int(r), "given": int(g), "suggested": int(s), "score": float(sc)}
                               for r, g, s, sc in zip(issues.rows, issues.given, issues.suggested, issues.score)]
        out["calibration"] = calibration(fs.y, proba)
    scores = knn_outliers(fs.X)
    out["outliers"] = np.argsort(-scores, kind="stable")[:20].tolist()
    rows, xy = map_2d(fs.X, fs.y, seed=spec.cv.seed)
    out["map"] = {"rows": rows.tolist(), "xy": np.round(xy, 4).tolist()}
    return out
