"""Report computations beyond the CV table: the learning curve of a configuration and the PCA
explained variance of a feature set, both cached in the job's result cache."""

from __future__ import annotations

import math
import warnings

import numpy as np


def _scorer(metric: str, n_classes: int):
    """``score(estimator, X, y) -> float`` for a metric name of featx.classify.METRICS."""
    from sklearn.metrics import get_scorer

    name = {
        "accuracy": "accuracy",
        "balanced_accuracy": "balanced_accuracy",
        "f1_macro": "f1_macro",
        "roc_auc": "roc_auc" if n_classes == 2 else "roc_auc_ovr",
        "log_loss": "neg_log_loss",
    }[metric]
    scorer = get_scorer(name)
    sign = -1.0 if metric == "log_loss" else 1.0

    def score(est, X, y) -> float:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return sign * float(scorer(est, X, y))
        except (ValueError, AttributeError, IndexError):  # a class missing from a small fold, no proba
            return math.nan

    return score


def stratified_subset(train: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.RandomState) -> np.ndarray:
    """``fraction`` of each class's rows of ``train`` (at least one per class), in index order."""
    if fraction >= 1.0:
        return np.sort(train)
    picked = []
    for c in np.unique(y[train]):
        rows = train[y[train] == c]
        k = max(1, int(round(fraction * len(rows))))
        picked.append(rng.choice(rows, size=k, replace=False))
    return np.sort(np.concatenate(picked))


def _fit_score(estimator, X, y, train, test, score):
    from sklearn.base import clone

    est = clone(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X[train], y[train])
    return score(est, X[train], y[train]), score(est, X[test], y[test])


def build_fixed_estimator(spec, fs, head: str, params: dict):
    """The head's pipeline with fixed hyperparameters ``params`` (pipeline parameter names)."""
    from featx.classify import PCA_GRID, make_head

    c = spec.classify
    pca = PCA_GRID[0] if c.pca_for(head) == "search" else c.pca_for(head)
    extra = {"classes": np.arange(fs.n_classes)} if head == "xgb" else {}
    est = make_head(head, pca=pca, whiten=c.whiten, random_state=spec.cv.seed, n_jobs=1,
                    probability=c.probability, **extra)
    if params:
        est.set_params(**params)
    return est


def learning_curve(spec, fs, result, splits, cache, progress: bool) -> dict:
    """Score vs training-set fraction of ``result``'s configuration on the same outer folds.

    Each outer training fold is subsampled per class to each fraction (seeded); the head is fitted
    with the hyperparameters chosen most often by the nested search (fixed, no inner search) and
    scored on the untouched outer test fold with ``spec.metrics.main``.
    """
    from joblib import Parallel, delayed

    from featx.pipelines._job import _bar, _digest, features_digest, most_common_params, splits_digest

    params, n_chosen = most_common_params(result.best_params)
    fractions = list(spec.report.fractions)
    metric = spec.metrics.main
    key = _digest({
        "kind": "learning_curve", "v": 1, "features": features_digest(fs.X, fs.y, fs.groups, fs.class_names),
        "splits": splits_digest(splits), "head": result.head, "params": params, "pca": spec.classify.pca_for(result.head),
        "whiten": spec.classify.whiten, "probability": spec.classify.probability, "fractions": fractions,
        "metric": metric, "seed": spec.cv.seed,
    })
    got = cache.load(key)
    if got is not None:
        doc = got[0]
        doc["cached"] = True
        return _nan_back(doc)
    est = build_fixed_estimator(spec, fs, result.head, params)
    score = _scorer(metric, fs.n_classes)
    rng = np.random.RandomState(spec.cv.seed)
    tasks = []
    for k, (train, test) in enumerate(splits):
        for f in fractions:
            tasks.append((k, f, stratified_subset(np.asarray(train), fs.y, f, rng), np.asarray(test)))
    bar = _bar(len(tasks), "learning curve", progress, unit="fit")
    try:
        out = []
        for chunk_start in range(0, len(tasks), max(1, len(splits))):
            chunk = tasks[chunk_start:chunk_start + max(1, len(splits))]
            out += Parallel(n_jobs=spec.classify.jobs)(
                delayed(_fit_score)(est, fs.X, fs.y, tr, te, score) for _, _, tr, te in chunk
            )
            bar.update(len(chunk))
    finally:
        bar.close()
    train_scores = np.full((len(fractions), len(splits)), np.nan)
    test_scores = np.full((len(fractions), len(splits)), np.nan)
    sizes = np.zeros((len(fractions), len(splits)))
    for (k, f, tr, _te), (s_tr, s_te) in zip(tasks, out):
        i = fractions.index(f)
        train_scores[i, k], test_scores[i, k], sizes[i, k] = s_tr, s_te, len(tr)
    doc = {
        "feature_set": fs.name, "head": result.head, "metric": metric, "params": params,
        "params_folds": n_chosen, "n_folds": len(splits), "fractions": fractions,
        "train_sizes": sizes.mean(axis=1).tolist(),
        "train_mean": _nanmean(train_scores), "train_std": _nanstd(train_scores),
        "test_mean": _nanmean(test_scores), "test_std": _nanstd(test_scores),
        "test_scores": test_scores.tolist(),
    }
    cache.save(key, doc)
    doc["cached"] = False
    return doc


def _nanmean(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nanmean(a, axis=1).tolist()


def _nanstd(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nanstd(a, axis=1).tolist()


def _nan_back(doc):
    def conv(v):
        if isinstance(v, list):
            return [conv(x) for x in v]
        return math.nan if v is None else v

    for k in ("train_mean", "train_std", "test_mean", "test_std", "test_scores"):
        if k in doc:
            doc[k] = conv(doc[k])
    return doc


def explained_variance(fs, cache) -> dict:
    """Explained variance ratio of PCA on the standardised features (all rows; descriptive)."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    from featx.pipelines._job import _digest, features_digest

    key = _digest({"kind": "pca", "v": 1, "features": features_digest(fs.X, fs.y, None, fs.class_names)})
    got = cache.load(key)
    if got is not None:
        return got[0]
    X = StandardScaler().fit_transform(fs.X.astype(np.float64))
    n = min(X.shape)
    ratio = PCA(n_components=n, svd_solver="full").fit(X).explained_variance_ratio_
    cum = np.cumsum(ratio)
    doc = {
        "feature_set": fs.name, "dim": int(fs.n_features), "n_samples": int(fs.n_samples),
        "ratio": ratio[: min(len(ratio), 512)].tolist(),
        "cumulative": cum[: min(len(cum), 512)].tolist(),
        "components_for": {str(t): int(np.searchsorted(cum, t) + 1) if cum[-1] >= t else int(n)
                           for t in (0.5, 0.9, 0.95, 0.99)},
    }
    cache.save(key, doc)
    return doc

