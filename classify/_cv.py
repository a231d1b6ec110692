"""Cross-validation of one head on one feature set (plain or nested), folds run with joblib.

Every step that learns from data (scaling, PCA, the hyperparameter search, stacking's meta
learner) is fitted on the training part of each outer fold only: the whole Pipeline (or the
search wrapping it) is cloned and fitted per fold, and test rows are only ever predicted.
"""

from __future__ import annotations

import time
import warnings
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.ensemble import StackingClassifier
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from ._errors import ClassifyWarning, GridError, ParameterError, SplitError
from ._features import FeatureSet
from ._grids import PCA_GRID, check_search, grid_size, is_search_pca, resolve_grid
from ._heads import check_head, check_pca, make_head
from ._metrics import METRICS, fold_metrics, global_scores, pooled_report, summarise
from ._result import CVResult, to_jsonable
from ._splits import check_splits, make_splitter, repeat_ids


def check_jobs(jobs) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, Integral) or not (jobs >= 1 or jobs == -1):
        raise ParameterError(f"jobs must be an int >= 1 or -1 (all cores); got {jobs!r}")
    return int(jobs)


def _check_feature_set(fs) -> FeatureSet:
    if not isinstance(fs, FeatureSet):
        raise ParameterError(f"expected a FeatureSet, got {type(fs).__name__}; wrap arrays with FeatureSet(name, X, y, class_names)")
    return fs.check_labelled()


def build_estimator(fs: FeatureSet, head: str, *, pca, whiten=False, seed=0, probability=False, head_params=None):
    """The head's Pipeline for ``fs`` (xgb answers in the global class space of ``fs``)."""
    params = dict(head_params or {})
    if head == "xgb":
        params.setdefault("classes", np.arange(fs.n_classes))
    return make_head(head, pca=pca, whiten=whiten, random_state=seed, n_jobs=1, probability=probability, **params)


def _make_search(estimator, grid, *, search, n_iter, inner, seed):
    if search == "grid":
        bad = [k for k, v in grid.items() if hasattr(v, "rvs")]
        if bad:
            raise GridError(f"grid key {bad[0]!r} holds a distribution, which needs search='random'; pass a list of values or search='random'")
        return GridSearchCV(estimator, grid, cv=inner, scoring="balanced_accuracy", refit=True, n_jobs=1, error_score=np.nan)
    size = grid_size(grid)
    n = n_iter if size is None else min(n_iter, size)
    return RandomizedSearchCV(
        estimator, grid, n_iter=n, cv=inner, scoring="balanced_accuracy", refit=True, n_jobs=1,
        random_state=seed, error_score=np.nan,
    )


def _run_fold(estimator, X, y, groups, train, test, n_classes, search_spec, seed, inner_folds):
    est = clone(estimator)
    X_train, y_train = X[train], y[train]
    g_train = None if groups is None else groups[train]
    inner_warnings: list[str] = []

    def inner_splits():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ClassifyWarning)
            splits = make_splitter(y_train, g_train, folds=inner_folds, seed=seed)
        inner_warnings.extend(str(w.message) for w in caught if issubclass(w.category, ClassifyWarning))
        return splits

    best_params = None
    t0 = time.perf_counter()
    if isinstance(est, StackingClassifier):
        est.set_params(cv=inner_splits())
    if search_spec is not None and search_spec["grid"]:
        est = _make_search(est, search_spec["grid"], search=search_spec["search"], n_iter=search_spec["n_iter"], inner=inner_splits(), seed=seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(Scoring failed|One or more of the test scores).*")
            est.fit(X_train, y_train)
        best_params = dict(est.best_params_)
    else:
        est.fit(X_train, y_train)
        if search_spec is not None:
            best_params = {}
    fit_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    X_test = X[test]
    y_pred = np.asarray(est.predict(X_test)).astype(np.int64)
    proba, scores = global_scores(est, X_test, n_classes)
    score_time = time.perf_counter() - t0
    return {
        "y_pred": y_pred, "proba": proba, "scores": scores, "fit_time": fit_time, "score_time": score_time,
        "best_params": best_params, "inner_warnings": inner_warnings,
    }


def run_cv(fs: FeatureSet, estimator, *, head_label: str, splits, search_spec=None, seed=0, inner_folds=3, jobs=1, config=None) -> CVResult:
    """Cross-validate a ready estimator on ``fs`` over ``splits`` (internal engine)."""
    X, y, n, k = fs.X, fs.y, fs.n_samples, fs.n_classes
    labels = np.unique(y)
    outs = Parallel(n_jobs=jobs)(
        delayed(_run_fold)(estimator, X, y, fs.groups, train, test, k, search_spec, seed, inner_folds)
        for train, test in splits
    )
    inner = sorted({m for o in outs for m in o["inner_warnings"]})
    if inner:
        warnings.warn(f"inner search: {inner[0]}" + (f" (and {len(inner) - 1} similar)" if len(inner) > 1 else ""), ClassifyWarning, stacklevel=3)

    reps = repeat_ids(splits, n)
    n_rep = max(reps) + 1
    oof_pred = np.full((n_rep, n), -1, dtype=np.int64)
    has_proba = all(o["proba"] is not None for o in outs)
    oof_proba = np.full((n_rep, n, k), np.nan) if has_proba else None
    per_fold = []
    for (train, test), r, o in zip(splits, reps, outs):
        oof_pred[r, test] = o["y_pred"]
        if has_proba:
            oof_proba[r, test] = o["proba"]
        per_fold.append(fold_metrics(y[test], o["y_pred"], o["proba"], o["scores"], labels))
    metrics = {m: summarise([f[m] for f in per_fold]) for m in METRICS}
    true_all = np.concatenate([y[test] for _, test in splits])
    pred_all = np.concatenate([o["y_pred"] for o in outs])
    confusion, per_class = pooled_report(true_all, pred_all, k, fs.class_names)
    best = [] if search_spec is None else [to_jsonable(o["best_params"]) for o in outs]
    cfg = dict(config or {})
    cfg.update(n_folds=len(splits), repeats=n_rep, seed=seed)
    return CVResult(
        feature_set=fs.name,
        head=head_label,
        metrics=metrics,
        best_params=best,
        fit_times=[float(o["fit_time"]) for o in outs],
        confusion=confusion,
        class_names=list(fs.class_names),
        per_class=per_class,
        oof_pred=oof_pred,
        fold_indices=[(tr, te) for tr, te in splits],
        meta=dict(fs.meta),
        config=to_jsonable(cfg),
        oof_proba=oof_proba,
        score_times=[float(o["score_time"]) for o in outs],
    )


def _resolve_splits(fs: FeatureSet, splits, *, folds, repeats, seed):
    if splits is None:
        return make_splitter(fs.y, fs.groups, folds=folds, repeats=repeats, seed=seed, class_names=fs.class_names)
    return check_splits(splits, fs.n_samples, fs.groups)


def cross_validate_head(
    feature_set: FeatureSet,
    head: str,
    *,
    pca=None,
    whiten: bool = False,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    nested: bool = False,
    inner_folds: int = 3,
    search: str = "grid",
    n_iter: int = 10,
    grid: dict | None = None,
    jobs: int = 1,
    splits=None,
    probability: bool = False,
    head_params: dict | None = None,
) -> CVResult:
    """Cross-validate ``head`` on ``feature_set`` and return a :class:`CVResult`.

    Parameters
    ----------
    feature_set : FeatureSet
        Labelled rows (every class with >= 2 samples).
    head : str
        One of ``HEADS``.
    pca : None, "off", int, float in (0, 1) or "search"
        PCA inside the pipeline (refit per training fold). ``"search"`` (nested only) searches
        ``pca__n_components`` over the default grid values.
    folds, repeats, seed
        Outer splits from :func:`make_splitter` (ignored when ``splits`` is given).
    nested : bool
        Tune hyperparameters with an inner ``GridSearchCV``/``RandomizedSearchCV`` (``search``,
        ``n_iter``) over ``inner_folds`` stratified (grouped) folds of each outer training fold,
        scored by balanced accuracy, refit on the whole training fold; the chosen parameters of
        each outer fold are in ``result.best_params``.
    grid : dict, optional
        Overrides of ``DEFAULT_GRIDS[head]`` (see :func:`resolve_grid`); needs ``nested=True``.
    jobs : int
        Outer folds run in parallel with joblib (-1: all cores).
    splits : list of (train, test), optional
        Precomputed outer splits (e.g. shared across heads); validated.
    probability : bool
        Calibrate heads without ``predict_proba`` (svm, ridge) so log loss is available.
    head_params : dict, optional
        Fixed classifier parameters (``{"C": 0.1}``), see :func:`make_head`.
    """
    fs = _check_feature_set(feature_set)
    check_head(head)
    jobs = check_jobs(jobs)
    if not isinstance(nested, bool):
        raise ParameterError(f"nested must be True or False; got {nested!r}")
    search_pca = is_search_pca(pca)
    if search_pca and not nested:
        raise ParameterError("pca='search' needs nested=True (a hyperparameter search); pass a fixed pca such as 0.95")
    if grid is not None and not nested:
        raise ParameterError("a grid is only used by a search: pass nested=True, or fix the parameters with head_params")
    if not search_pca:
        check_pca(pca)
    search = check_search(search)
    if isinstance(n_iter, bool) or not isinstance(n_iter, Integral) or n_iter < 1:
        raise ParameterError(f"n_iter must be an int >= 1; got {n_iter!r}")
    if isinstance(inner_folds, bool) or not isinstance(inner_folds, Integral) or inner_folds < 2:
        raise ParameterError(f"inner_folds must be an int >= 2; got {inner_folds!r}")

    search_spec = None
    build_pca = pca
    if nested:
        resolved = resolve_grid(head, grid, pca=pca, probability=probability)
        if head_params:
            fixed = {f"clf__{k}" for k in head_params}
            resolved = {k: v for k, v in resolved.items() if k not in fixed or (grid and k in grid)}
        search_spec = {"grid": resolved, "search": search, "n_iter": n_iter}
        if search_pca:
            build_pca = PCA_GRID[0]  # placeholder: the search sets pca__n_components
    estimator = build_estimator(fs, head, pca=build_pca, whiten=whiten, seed=seed, probability=probability, head_params=head_params)
    splits = _resolve_splits(fs, splits, folds=folds, repeats=repeats, seed=seed)
    config = {
        "head": head, "pca": pca, "whiten": whiten, "nested": nested, "inner_folds": inner_folds if nested else None,
        "search": search if nested else None, "n_iter": n_iter if nested and search == "random" else None,
        "grid": search_spec["grid"] if nested else None, "probability": probability, "head_params": dict(head_params or {}),
        "groups": fs.groups is not None,
    }
    try:
        return run_cv(fs, estimator, head_label=head, splits=splits, search_spec=search_spec, seed=seed,
                      inner_folds=inner_folds, jobs=jobs, config=config)
    except SplitError as exc:
        raise SplitError(f"feature set {fs.name!r}, head {head!r}: {exc}") from None
