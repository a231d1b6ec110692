"""Analyses beside the CV table: the learning curve of one configuration on the CV's own folds,
and the PCA spectrum (explained variance) of a feature set. Plain dicts of lists, no caching."""

from __future__ import annotations

import math
import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from featx.classify.cv._cv import _check_feature_set, build_estimator, check_jobs
from featx.classify._errors import ParameterError
from featx.classify.heads._grids import PCA_GRID, is_search_pca
from featx.classify.heads._heads import head_entry
from featx.classify._metrics import METRIC, MetricScorer
from featx.classify.cv._splits import SEED, check_splits

#: Cumulative explained-variance levels whose component counts ``explained_variance`` reports.
VARIANCE_LEVELS = (0.5, 0.9, 0.95, 0.99)
#: Longest ``ratio``/``cumulative`` list ``explained_variance`` returns.
MAX_COMPONENTS = 512


def stratified_subset(train, y, fraction: float, rng: np.random.RandomState) -> np.ndarray:
    """``fraction`` of each class's rows of ``train`` (at least one per class), in index order;
    all of ``train`` (sorted) for ``fraction >= 1``. ``rng`` is advanced once per class."""
    train = np.asarray(train)
    if fraction >= 1.0:
        return np.sort(train)
    picked = []
    for c in np.unique(y[train]):
        rows = train[y[train] == c]
        k = max(1, int(round(fraction * len(rows))))
        picked.append(rng.choice(rows, size=k, replace=False))
    return np.sort(np.concatenate(picked))


def fixed_estimator(fs, head, params: dict | None = None, *, pca=None, whiten=False, probability=False, seed=0):
    """The estimator of ``head`` (a head name or your classifier) with the fixed
    hyperparameters ``params`` (Pipeline parameter names, e.g. the mode of ``best_params``);
    ``pca="search"`` starts from ``PCA_GRID[0]`` unless ``params`` sets ``pca__n_components``."""
    label, custom = head_entry(head)
    if custom is not None:
        est = clone(custom)
    else:
        est = build_estimator(fs, label, pca=PCA_GRID[0] if is_search_pca(pca) else pca, whiten=whiten, seed=seed,
                              probability=probability)
    if params:
        est.set_params(**params)
    return est


def _fit_score(estimator, X, y, train, test, score):
    est = clone(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X[train], y[train])
        return _safe(score, est, X[train], y[train]), _safe(score, est, X[test], y[test])


def _safe(score, est, X, y) -> float:
    try:
        return score(est, X, y)
    except (ValueError, AttributeError, IndexError):  # a class missing from a small fold, no proba
        return math.nan


def _nan_stat(fn, a) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fraction whose every fold is NaN
        return fn(a, axis=1).tolist()


def learning_curve(fs, head, params, splits, fractions, *, metric: str = METRIC.default, pca=None,
                   whiten: bool = False, probability: bool = False, seed: int = SEED.default, jobs: int = 1,
                   progress=None) -> dict:
    """Score vs training-set size of one configuration on the outer folds ``splits``.

    Each training part of ``splits`` is subsampled per class to every fraction of ``fractions``
    (:func:`stratified_subset`, one ``RandomState(seed)`` drawn fold by fold, fraction by
    fraction); ``head`` (a head name or your classifier) with the fixed hyperparameters
    ``params`` is fitted on the subset and scored by ``metric`` (computed as the CV reports it)
    on the subset and on the untouched test part. ``progress(done, total, label)`` is called
    after each fit.

    Returns ``{"feature_set", "head", "metric", "params", "n_folds", "fractions",
    "train_sizes", "train_mean", "train_std", "test_mean", "test_std", "test_scores"}``: per
    fraction the mean training rows, the mean and std over folds of the training and test
    scores (NaN folds skipped; NaN where every fold is NaN), and ``test_scores[fraction][fold]``.
    """
    fs = _check_feature_set(fs)
    jobs = check_jobs(jobs)
    splits = check_splits(splits, fs.n_samples, fs.groups)
    fractions = [float(f) for f in fractions]
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ParameterError(f"fractions must be numbers in (0, 1], such as [0.1, 0.5, 1.0]; got {fractions!r}")
    if progress is not None and not callable(progress):
        raise ParameterError(f"progress must be a callable(done, total, label) or None; got {progress!r}")
    label = head_entry(head)[0]
    params = dict(params or {})
    est = fixed_estimator(fs, head, params, pca=pca, whiten=whiten, probability=probability, seed=seed)
    score = MetricScorer(metric, labels=np.unique(fs.y), greater_is_better=False)
    rng = np.random.RandomState(seed)
    tasks = [(k, i, stratified_subset(train, fs.y, f, rng), test)
             for k, (train, test) in enumerate(splits) for i, f in enumerate(fractions)]
    shape = (len(fractions), len(splits))
    train_scores, test_scores, sizes = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape)
    run = Parallel(n_jobs=jobs, return_as="generator")(
        delayed(_fit_score)(est, fs.X, fs.y, tr, te, score) for _, _, tr, te in tasks)
    for done, ((k, i, tr, _), (s_tr, s_te)) in enumerate(zip(tasks, run), start=1):
        train_scores[i, k], test_scores[i, k], sizes[i, k] = s_tr, s_te, len(tr)
        if progress is not None:
            progress(done, len(tasks), f"{fs.name}/{label}")
    return {
        "feature_set": fs.name, "head": label, "metric": metric, "params": params, "n_folds": len(splits),
        "fractions": fractions, "train_sizes": sizes.mean(axis=1).tolist(),
        "train_mean": _nan_stat(np.nanmean, train_scores), "train_std": _nan_stat(np.nanstd, train_scores),
        "test_mean": _nan_stat(np.nanmean, test_scores), "test_std": _nan_stat(np.nanstd, test_scores),
        "test_scores": test_scores.tolist(),
    }


def explained_variance(fs) -> dict:
    """Explained variance ratio of a PCA of the standardised features (all rows; descriptive).

    Returns ``{"feature_set", "dim", "n_samples", "ratio", "cumulative", "components_for"}``:
    the ratio and its cumulative sum of the first (up to 512) components, and for each level of
    ``VARIANCE_LEVELS`` (as a string key, ``"0.95"``) the components needed to reach it.
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    from featx.classify._features import FeatureSet

    if not isinstance(fs, FeatureSet):
        raise ParameterError(f"expected a FeatureSet, got {type(fs).__name__}; wrap arrays with FeatureSet(name, X, y, class_names)")
    X = StandardScaler().fit_transform(fs.X.astype(np.float64))
    n = min(X.shape)
    ratio = PCA(n_components=n, svd_solver="full").fit(X).explained_variance_ratio_
    cum = np.cumsum(ratio)
    return {
        "feature_set": fs.name, "dim": int(fs.n_features), "n_samples": int(fs.n_samples),
        "ratio": ratio[:MAX_COMPONENTS].tolist(),
        "cumulative": cum[:MAX_COMPONENTS].tolist(),
        "components_for": {str(t): int(np.searchsorted(cum, t) + 1) if cum[-1] >= t else int(n) for t in VARIANCE_LEVELS},
    }
