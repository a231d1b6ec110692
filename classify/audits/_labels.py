"""Label issues from out-of-fold probabilities by confident learning.

The method is that of Northcutt, Jiang and Chuang, "Confident Learning: Estimating Uncertainty in
Dataset Labels", Journal of Artificial Intelligence Research 70 (2021) 1373-1411: a row is
*confidently* of class ``j`` when its out-of-fold probability of ``j`` reaches class ``j``'s
threshold ``t_j`` (the mean probability of ``j`` over the rows labelled ``j``); the rows whose
confident class differs from the given label form the off-diagonal of the confident joint and
are the label issues, ranked by self-confidence or normalized margin. One departure: a row above
no class's threshold counts as its most probable class instead of being left out. Written here over numpy
(cleanlab, the authors' library, is AGPL-licensed; none of its code is used).

:func:`prune_and_rescore` is the paper's "prune, then retrain" step used to rank: the first
pass's issues are left out of every training fold (they stay in their test folds) and every row
is scored again, so the flipped labels no longer pull the models towards themselves. On
hymenoptera with 5% planted flips this raised the share of flips within the top 1.5 x n_flips
issues from a mean of 0.82 to 0.89 over 12 random draws (0.85 to 0.87 on a held-out set), for
one more CV (benchmarks/bench_label_flips.py; BENCHMARKS.md, "Audit").
"""

from __future__ import annotations

import dataclasses

import numpy as np

from featx.classify._errors import ParameterError

RANKINGS = ("normalized_margin", "self_confidence")


def mean_oof_proba(oof_proba) -> np.ndarray:
    """(n, k) probabilities: the mean over repeats of a result's (r, n, k) ``oof_proba``."""
    p = np.asarray(oof_proba, dtype=np.float64)
    if p.ndim == 3:
        p = np.nanmean(p, axis=0)
    if p.ndim != 2 or np.isnan(p).any():
        raise ParameterError(f"out-of-fold probabilities must be (n, k) without gaps, got shape {p.shape}; "
                             f"cross-validate every row with a head that gives probabilities")
    return p


@dataclasses.dataclass(frozen=True)
class LabelIssues:
    """Rows whose given label is likely wrong, most likely first.

    ``rows`` index the input; ``given``/``suggested`` are class indices; ``score`` is the
    suspicion (higher: more likely wrong; ``1 - self-confidence`` or minus the normalized
    margin); ``thresholds`` the per-class thresholds; ``confident_joint`` (k, k) counts rows by
    given (rows) and confident (columns) class (rows above no threshold: their argmax).
    """

    rows: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    score: np.ndarray
    thresholds: np.ndarray
    confident_joint: np.ndarray


def pruned_splits(labels, splits, rows):
    """``splits`` with ``rows`` left out of every training part (their test parts unchanged), or
    None when that would leave a training part without a class it had (nothing is pruned then)."""
    labels = np.asarray(labels)
    rows = np.asarray(rows, dtype=np.int64)
    out = []
    for train, test in splits:
        train = np.asarray(train, dtype=np.int64)
        kept = train[~np.isin(train, rows)]
        if np.unique(labels[kept]).size < np.unique(labels[train]).size:
            return None
        out.append((kept, np.asarray(test, dtype=np.int64)))
    return out


def prune_and_rescore(labels, proba, splits, cross_validate, *, ranking: str = "normalized_margin"):
    """Confident learning's prune, then retrain, for ranking: ``(issues, proba)`` where the label
    issues of ``proba`` (out-of-fold on ``splits``) were left out of every training fold and all
    rows rescored by ``cross_validate(pruned_splits)`` (a result with ``oof_proba``). Without
    issues, or when pruning would empty a class from a training fold, the first pass is returned."""
    labels = np.asarray(labels, dtype=np.int64)
    proba = mean_oof_proba(proba)
    first = find_label_issues(labels, proba, ranking=ranking)
    pruned = pruned_splits(labels, splits, first.rows) if first.rows.size else None
    if pruned is None:
        return first, proba
    second = mean_oof_proba(cross_validate(pruned).oof_proba)
    return find_label_issues(labels, second, ranking=ranking), second


def label_quality(labels, proba, ranking: str = "normalized_margin") -> np.ndarray:
    """Per-row quality of the given label in [0, 1] (low: likely wrong)."""
    if ranking not in RANKINGS:
        raise ParameterError(f"ranking must be one of {', '.join(RANKINGS)}; got {ranking!r}")
    n = len(labels)
    self_conf = proba[np.arange(n), labels]
    if ranking == "self_confidence":
        return self_conf
    other = proba.copy()
    other[np.arange(n), labels] = -np.inf
    return (self_conf - other.max(axis=1) + 1.0) / 2.0


def find_label_issues(labels, proba, *, ranking: str = "normalized_margin") -> LabelIssues:
    """Confident-learning label issues of ``labels`` (n,) given out-of-fold ``proba`` (n, k)."""
    labels = np.asarray(labels, dtype=np.int64)
    proba = mean_oof_proba(proba)
    n, k = proba.shape
    if labels.shape != (n,):
        raise ParameterError(f"labels must have one entry per row of proba ({n}); got shape {labels.shape}")
    thresholds = np.array([proba[labels == j, j].mean() if (labels == j).any() else 1.0 for j in range(k)])
    above = proba >= thresholds[None, :] - 1e-12
    masked = np.where(above, proba, -np.inf)
    has = above.any(axis=1)
    # a row above no threshold counts as its most probable class (the paper leaves it out of the
    # joint; a row labelled a at p(b) = 0.95 under a threshold of 0.97 is still suspect)
    confident = np.where(has, masked.argmax(axis=1), proba.argmax(axis=1))
    joint = np.zeros((k, k), dtype=np.int64)
    np.add.at(joint, (labels, confident), 1)
    issue = confident != labels
    quality = label_quality(labels, proba, ranking)
    rows = np.flatnonzero(issue)
    rows = rows[np.argsort(quality[rows], kind="stable")]
    other = proba.copy()
    other[np.arange(n), labels] = -np.inf
    suggested = other.argmax(axis=1)
    return LabelIssues(rows=rows, given=labels[rows], suggested=suggested[rows], score=1.0 - quality[rows],
                       thresholds=thresholds, confident_joint=joint)
