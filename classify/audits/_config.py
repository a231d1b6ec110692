"""``audit_configuration``: the audit of one configuration that has been cross-validated - how
many duplicate clusters straddle its folds, its score with and without leak-proof grouping (the
other folds rerun through the caller's ``cross_validate``), confident-learning label issues and
calibration from its out-of-fold probabilities, k-NN outliers and a 2-D map of its features."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from featx.classify.audits._audit import leak_groups
from featx.classify.audits._exact import straddling
from featx.classify.audits._labels import find_label_issues, prune_and_rescore
from featx.classify.audits._map import map_2d
from featx.classify.audits._stats import calibration, knn_outliers
from featx.classify._errors import ClassifyWarning, SplitError
from featx.classify.cv._splits import make_splitter


def audit_configuration(fs, result, splits, *, exact, near, cross_validate, base_groups=None, mode: str = "warn",
                        folds: int = 5, repeats: int = 1, seed: int = 0, metric: str = "balanced_accuracy",
                        n_outliers: int = 20, prune: bool = True) -> dict:
    """JSON-ready findings of ``result`` (a CVResult of ``fs`` on ``splits``). ``exact`` and
    ``near`` (``(rows, min_similarity)``) are the duplicate clusters of ``fs``'s rows,
    ``base_groups`` the groups the rows had before any near-duplicate grouping, ``mode`` the
    ``DEDUPE`` setting the folds were made with; ``cross_validate(fs, splits)`` reruns the
    configuration on the other folds (``mode == 'group'``: without near groups; else with them)
    and, with ``prune``, on ``splits`` with the first pass's label issues left out of training
    (confident learning's prune, then retrain: :func:`prune_and_rescore`).

    Keys: leak (straddling_clusters, score_grouped, score_ungrouped, metric, mode, unavailable),
    class_names, labels, exact, near, oof_pred, label_issues, calibration (None without
    probabilities), outliers (the ``n_outliers`` farthest rows) and map (rows, xy)."""
    clusters = list(exact) + [rows for rows, _ in near]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassifyWarning)
        # the folds used are leak-proof with 'group'; the other score then has no near groups
        other_groups = base_groups if mode == "group" else leak_groups(fs.n_samples, exact, near, base_groups)
        try:
            other = make_splitter(fs.y, other_groups, folds=folds, repeats=repeats, seed=seed, class_names=fs.class_names)
        except SplitError as exc:  # e.g. the clusters join a whole class into one group
            other, why = None, str(exc)
    other_score = None if other is None else cross_validate(dataclasses.replace(fs, groups=other_groups), other).mean(metric)
    score = result.mean(metric)
    grouped, ungrouped = (score, other_score) if mode == "group" else (other_score, score)
    out = {"leak": {"straddling_clusters": int(straddling(clusters, splits)), "score_grouped": grouped,
                    "score_ungrouped": ungrouped, "metric": metric, "mode": mode,
                    "unavailable": None if other is not None else f"the other folds cannot be made: {why}"},
           "class_names": list(fs.class_names), "labels": fs.y.tolist(), "exact": [np.asarray(c).tolist() for c in exact],
           "near": [c.record() if hasattr(c, "record") else {"rows": np.asarray(c[0]).tolist(), "min_similarity": float(c[1])}
                    for c in near],
           "oof_pred": result.oof_pred[0].tolist(), "label_issues": [], "calibration": None}
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
    out["outliers"] = np.argsort(-scores, kind="stable")[:n_outliers].tolist()
    out["outlier_scores"] = [round(float(scores[i]), 4) for i in out["outliers"]]
    rows, xy = map_2d(fs.X, fs.y, seed=seed)
    out["map"] = {"rows": rows.tolist(), "xy": np.round(xy, 4).tolist()}
    return out
