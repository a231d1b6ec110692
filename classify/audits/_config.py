"""``audit_configuration``: the audit of one configuration that has been cross-validated - how
many duplicate clusters straddle its folds, its score with and without leak-proof grouping (the
other folds rerun through the caller's ``cross_validate``), confident-learning label issues and
calibration from its out-of-fold probabilities, k-NN outliers, image-quality issues and a 2-D map
of its features; with ``paths``, also the built-in audit checks' findings in the ``featx audit
--json`` shape (the same check functions as :func:`~featx.classify.audit`)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from featx.classify.audits._audit import leak_groups, paired_difference, paired_splits
from featx.classify.audits._exact import straddling
from featx.classify.audits._labels import find_label_issues, prune_and_rescore
from featx.classify.audits._map import map_2d
from featx.classify.audits._quality import image_issues
from featx.classify.audits._registry import make_context, run_audit_checks
from featx.classify.audits._stats import calibration, knn_outliers
from featx.classify._errors import ClassifyWarning, SplitError
from featx.classify.cv._splits import make_splitter


def audit_configuration(fs, result, splits, *, exact, near, cross_validate, base_groups=None, mode: str = "warn",
                        folds: int = 5, repeats: int = 1, seed: int = 0, metric: str = "balanced_accuracy",
                        n_outliers: int = 20, prune: bool = True, paths=None, image_stats=None, quality=None) -> dict:
    """JSON-ready findings of ``result`` (a CVResult of ``fs`` on ``splits``). ``exact`` and
    ``near`` (``(rows, min_similarity)``) are the duplicate clusters of ``fs``'s rows,
    ``base_groups`` the groups the rows had before any near-duplicate grouping, ``mode`` the
    ``DEDUPE`` setting the folds were made with; ``cross_validate(fs, splits)`` reruns the
    configuration on the other folds (``mode == 'group'``: without near groups; else with them)
    and, with ``prune``, on ``splits`` with the first pass's label issues left out of training
    (confident learning's prune, then retrain: :func:`prune_and_rescore`). ``image_stats`` (pixel
    statistics per row, or None) gives the image-quality issues, judged with ``quality``.

    The leak score is ``featx audit``'s: grouped and ungrouped CV on paired folds (the plain
    folds with only the straddling clusters' members moved, :func:`paired_splits`), their
    difference and its 95% interval (:func:`paired_difference`, over rows and the ``repeats``).

    Keys: leak (straddling_clusters (on ``splits``), straddling_plain (on the plain folds), score_grouped, score_ungrouped, metric, mode, difference,
    interval, repeats, paired, unavailable),
    class_names, labels, exact, near, oof_pred, label_issues, calibration (None without
    probabilities), outliers (the ``n_outliers`` farthest rows), outlier_scores (theirs), image_issues
    (``{row, issue, score}``; None without ``image_stats``), map (rows, xy) and, with ``paths`` (row
    names), findings: ``{name: findings}`` of the built-in audit checks (``featx audit --json``'s
    first keys; results.json and the report read these)."""
    clusters = list(exact) + [rows for rows, _ in near]
    grouped_ids = leak_groups(fs.n_samples, exact, near, base_groups)
    plain_fs = dataclasses.replace(fs, groups=base_groups)
    safe_fs = dataclasses.replace(fs, groups=grouped_ids)
    why = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassifyWarning)
        # paired folds (featx audit's leak score): the plain folds, with only the members of
        # straddling clusters moved; 'warn' ran on the plain folds, 'group' on grouped ones that
        # have no plain twin, so both are run here
        plain_splits = splits
        if mode == "group":
            try:
                plain_splits = make_splitter(fs.y, base_groups, folds=folds, repeats=repeats, seed=seed, class_names=fs.class_names)
            except SplitError as exc:
                plain_splits, why = None, str(exc)
    plain = safe = None
    if plain_splits is not None:
        safe_splits = paired_splits(plain_splits, grouped_ids)
        plain = result if mode != "group" else cross_validate(plain_fs, plain_splits)
        safe = cross_validate(safe_fs, safe_splits)
    grouped = None if safe is None else safe.mean(metric)
    ungrouped = None if plain is None else plain.mean(metric)
    diff, interval = None, None
    if plain is not None:
        diff, interval = paired_difference(fs.y, plain.oof_pred, safe.oof_pred, plain.oof_proba, safe.oof_proba, metric,
                                           seed=seed)
    out = {"leak": {"straddling_clusters": int(straddling(clusters, splits)),
                    "straddling_plain": None if plain_splits is None else int(straddling(clusters, plain_splits)),
                    "score_grouped": grouped, "score_ungrouped": ungrouped, "metric": metric, "mode": mode,
                    "difference": diff, "interval": interval, "repeats": int(repeats), "paired": True,
                    "unavailable": None if why is None else f"the plain folds cannot be made: {why}"},
           "class_names": list(fs.class_names), "labels": fs.y.tolist(), "exact": [np.asarray(c).tolist() for c in exact],
           "near": [c.record() if hasattr(c, "record") else {"rows": np.asarray(c[0]).tolist(), "min_similarity": float(c[1])}
                    for c in near],
           "oof_pred": result.oof_pred[0].tolist(), "label_issues": [], "calibration": None}
    issues = proba = None
    if result.oof_proba is not None and not np.isnan(result.oof_proba).any():
        proba = np.nanmean(result.oof_proba, axis=0)
        if prune:
            issues, _ = prune_and_rescore(fs.y, proba, splits, lambda pruned: cross_validate(fs, pruned))
        else:
            issues = find_label_issues(fs.y, proba)
        out["label_issues"] = [{"row": int(r), "given": int(g), "suggested": int(s), "score": float(sc)}
                               for r, g, s, sc in zip(issues.rows, issues.given, issues.suggested, issues.score)]
        out["calibration"] = calibration(fs.y, proba)
    scores = knn_outliers(fs.X)
    top = np.argsort(-scores, kind="stable")[:n_outliers]
    out["outliers"] = top.tolist()
    out["outlier_scores"] = [round(float(scores[i]), 4) for i in out["outliers"]]
    quality_issues = None if image_stats is None else image_issues(image_stats, thresholds=quality)
    out["image_issues"] = None if quality_issues is None else [{"row": r, "issue": i, "score": sc}
                                                               for r, i, sc in quality_issues]
    rows, xy = map_2d(fs.X, fs.y, seed=seed)
    out["map"] = {"rows": rows.tolist(), "xy": np.round(xy, 4).tolist()}
    if paths is not None:  # the same check functions as audit(): one shape of findings
        out["findings"] = run_audit_checks(make_context(
            feature_set=fs, X=fs.X, labels=fs.y, class_names=tuple(fs.class_names), paths=tuple(paths),
            groups=base_groups, Z=None, knn=None, exact=tuple(tuple(c) for c in exact), near=tuple(near),
            leak_groups=grouped_ids, oof_pred=result.oof_pred[0], oof_proba=proba, head=result.head, label_issues=issues,
            outlier_scores=scores, calibration=out["calibration"], leak=out["leak"], image_stats=image_stats, seed=seed,
            outliers=top, image_issues=None if quality_issues is None else tuple(quality_issues)), builtin_only=True)
    return out
