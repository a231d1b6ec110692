"""Soft voting and stacking of heads fitted on several feature sets of the same images.

The feature sets are matched row by row through their ``keys`` (content hashes or paths),
concatenated column-wise, and every member is a Pipeline that first slices its own feature
set's columns: ``ColumnSlice -> scale -> pca -> clf``. The ensemble is then one scikit-learn
estimator (``VotingClassifier`` or ``StackingClassifier``) cross-validated on the same folds
as single heads, with all fitting (stacking's meta learner included) inside training folds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from featx.classify.cv._compare import _check_feature_sets
from featx.classify.cv._cv import _resolve_splits, check_jobs, run_cv
from featx.classify._errors import ParameterError, unknown_message
from featx.classify.heads._estimators import ColumnSlice
from featx.classify._features import FeatureSet, align_feature_sets, check_same_rows
from featx.classify.heads._heads import check_pca, head_entries, make_head
from featx.classify.cv._result import CVResult

METHODS = ("soft", "stacking")


def _member_heads(feature_sets: list[FeatureSet], heads) -> list[tuple[int, str]]:
    names = [fs.name for fs in feature_sets]
    if isinstance(heads, Mapping):
        for key in heads:
            if key not in names:
                raise ParameterError(unknown_message("feature set in heads", key, names))
        missing = [n for n in names if not heads.get(n)]
        if missing:
            raise ParameterError(f"heads gives no head for feature sets {missing}; map every feature set to a head or list of heads")
        return [(i, h) for i, fs in enumerate(feature_sets) for h in _names(heads[fs.name])]
    heads = _names(heads)
    return [(i, h) for i in range(len(feature_sets)) for h in heads]


def _names(heads) -> list[str]:
    return [label for label, _ in head_entries(heads, estimators=False)]


def _safe(name: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^0-9A-Za-z_.:@-]", "_", name))


def build_ensemble(feature_sets: list[FeatureSet], members, *, method, pca, seed, final_estimator=None, weights=None, head_params=None):
    """The ensemble estimator over the column-wise concatenation of ``feature_sets``."""
    offsets = np.cumsum([0] + [fs.n_features for fs in feature_sets])
    estimators = []
    for i, head in members:
        params = dict((head_params or {}).get(head, {}))
        pipe = make_head(head, pca=pca, random_state=seed, n_jobs=1, probability=(method == "soft"), **params)
        member = Pipeline([("select", ColumnSlice(int(offsets[i]), int(offsets[i + 1])))] + list(pipe.steps))
        estimators.append((_safe(f"{head}@{feature_sets[i].name}"), member))
    if method == "soft":
        return VotingClassifier(estimators, voting="soft", weights=weights, n_jobs=1)
    final = final_estimator if final_estimator is not None else LogisticRegression(max_iter=2000)
    return StackingClassifier(estimators, final_estimator=final, stack_method="auto", n_jobs=1)


def ensemble_cv(
    feature_sets: Sequence[FeatureSet],
    heads,
    *,
    method: str = "soft",
    pca=None,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    jobs: int = 1,
    splits=None,
    inner_folds: int = 3,
    final_estimator=None,
    weights=None,
    head_params: Mapping[str, dict] | None = None,
    name: str | None = None,
) -> CVResult:
    """Cross-validate an ensemble of heads fitted on several feature sets of the same images.

    Parameters
    ----------
    feature_sets : sequence of FeatureSet
        Same images; rows are matched by ``keys`` and reordered to the first set's order
        (different key sets are an error). Without keys on any set, rows must already agree.
    heads : str, list of str, or dict
        One head or a list: every head on every feature set; a dict ``{feature_set_name: head
        or [heads]}`` picks heads per feature set.
    method : "soft" or "stacking"
        Soft voting averages member probabilities (svm/ridge members are calibrated);
        stacking fits a ``final_estimator`` (default logistic regression) on the members'
        out-of-fold probabilities/decisions computed on ``inner_folds`` folds of each outer
        training fold.
    pca, folds, repeats, seed, jobs, splits
        As in :func:`cross_validate_head`; splits come from the aligned labels and groups.
    weights : list of float, optional
        Soft-voting weights, one per member (member order: feature sets, then heads).
    head_params : dict, optional
        ``{head: {param: value}}`` fixed classifier parameters.
    """
    if method not in METHODS:
        raise ParameterError(unknown_message("ensemble method", method, METHODS))
    feature_sets = _check_feature_sets(feature_sets)
    jobs = check_jobs(jobs)
    check_pca(pca)
    if any(fs.keys is not None for fs in feature_sets):
        feature_sets = align_feature_sets(feature_sets)
    else:
        check_same_rows(feature_sets, what="ensemble")
    members = _member_heads(feature_sets, heads)
    if len(members) < 2:
        raise ParameterError(f"an ensemble needs at least 2 members, got {len(members)}; pass more feature sets or heads")
    if weights is not None and (method != "soft" or len(weights) != len(members)):
        raise ParameterError(f"weights need method='soft' and one value per member ({len(members)}); got {weights!r}")
    first = feature_sets[0]
    combined = FeatureSet(
        name=name or "+".join(fs.name for fs in feature_sets),
        X=np.hstack([fs.X for fs in feature_sets]),
        y=first.y,
        class_names=first.class_names,
        groups=first.groups,
        keys=first.keys,
        meta={"members": {fs.name: fs.meta for fs in feature_sets}},
    ).check_labelled()
    estimator = build_ensemble(feature_sets, members, method=method, pca=pca, seed=seed,
                               final_estimator=final_estimator, weights=weights, head_params=head_params)
    splits = _resolve_splits(combined, splits, folds=folds, repeats=repeats, seed=seed)
    labels = [f"{h}@{feature_sets[i].name}" for i, h in members]
    config = {
        "method": method, "members": labels, "pca": pca, "nested": False, "inner_folds": inner_folds if method == "stacking" else None,
        "weights": weights, "groups": combined.groups is not None,
    }
    return run_cv(combined, estimator, head_label=f"{method}({', '.join(labels)})", splits=splits, seed=seed,
                  inner_folds=inner_folds, jobs=jobs, config=config)
