"""Cross-validation of one head on one feature set (plain or nested), folds run with joblib.

Every step that learns from data (scaling, PCA, the hyperparameter search, stacking's meta
learner) is fitted on the training part of each outer fold only: the whole Pipeline (or the
search wrapping it) is cloned and fitted per fold, and test rows are only ever predicted.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import warnings
from numbers import Integral

import numpy as np
from joblib import Memory, Parallel, delayed
from sklearn.base import clone
from sklearn.ensemble import StackingClassifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from ._errors import ClassifyWarning, GridError, ParameterError, SplitError
from ._features import FeatureSet
from ._grids import PCA_GRID, check_search, grid_size, is_search_pca, resolve_grid
from ._heads import check_head, check_pca, make_head
from ._metrics import BOUNDS, METRICS, fold_metrics, global_scores, pooled_report, summarise
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
        return GridSearchCV(estimator, grid, cv=inner, scoring="balanced_accuracy", refit=True, n_jobs=1, error_score=np.nan)
    size = grid_size(grid)
    n = n_iter if size is None else min(n_iter, size)
    return RandomizedSearchCV(
        estimator, grid, n_iter=n, cv=inner, scoring="balanced_accuracy", refit=True, n_jobs=1,
        random_state=seed, error_score=np.nan,
    )


def _run_fold(estimator, X, y, groups, train, test, n_classes, search_spec, seed, inner_folds):
    # one core per fold: ``jobs`` is the number of cores a CV uses, and multithreaded BLAS on
    # small matrices mostly spin-waits (15x more CPU time on a busy 2-core machine)
    with threadpool_limits(limits=1):
        return _run_fold_body(estimator, X, y, groups, train, test, n_classes, search_spec, seed, inner_folds)


def _run_fold_body(estimator, X, y, groups, train, test, n_classes, search_spec, seed, inner_folds):
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
        with tempfile.TemporaryDirectory(prefix="featx-cv-") as cache:
            if isinstance(est, Pipeline) and est.named_steps.get("pca", "passthrough") != "passthrough":
                # candidates that share scale/PCA parameters reuse the fitted transformers of an
                # inner fold instead of refitting PCA for every classifier setting
                est.set_params(memory=Memory(cache, verbose=0))
            searcher = _make_search(est, search_spec["grid"], search=search_spec["search"], n_iter=search_spec["n_iter"], inner=inner_splits(), seed=seed)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*(Scoring failed|One or more of the test scores|Persisting input arguments).*")
                warnings.filterwarnings("ignore", category=FitFailedWarning)
                try:
                    searcher.fit(X_train, y_train)
                except ValueError as exc:
                    if "fits failed" not in str(exc):
                        raise
                    detail = [line for line in str(exc).splitlines() if line.strip()][-1].strip()
                    raise GridError(
                        f"every candidate of the grid failed on an outer training fold of {len(train)} rows "
                        f"(last error: {detail}); fix the grid values or pick ones that suit this data size"
                    ) from None
            best_params = dict(searcher.best_params_)
            est = searcher.best_estimator_
            if isinstance(est, Pipeline):
                est.set_params(memory=None)
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


@dataclasses.dataclass
class CVJob:
    """One configuration to cross-validate: a ready estimator, a feature set and its splits."""

    fs: FeatureSet
    estimator: object
    head_label: str
    splits: list
    search_spec: dict | None = None
    seed: int = 0
    inner_folds: int = 3
    config: dict = dataclasses.field(default_factory=dict)

    def tasks(self):
        fs = self.fs
        return [
            delayed(_run_fold)(self.estimator, fs.X, fs.y, fs.groups, train, test, fs.n_classes,
                               self.search_spec, self.seed, self.inner_folds)
            for train, test in self.splits
        ]


def run_jobs(cv_jobs: list[CVJob], *, jobs: int = 1, progress=None) -> list[CVResult]:
    """Run the folds of all configurations in one joblib pool (balanced across workers).

    ``progress(done, total, label)`` is called as each configuration completes, in order.
    """
    tasks, owner = [], []
    for i, job in enumerate(cv_jobs):
        t = job.tasks()
        tasks += t
        owner += [i] * len(t)
    remaining = [len(job.splits) for job in cv_jobs]
    outs: list[list] = [[] for _ in cv_jobs]
    results: list[CVResult | None] = [None] * len(cv_jobs)
    done = 0
    for i, out in zip(owner, Parallel(n_jobs=jobs, return_as="generator")(tasks)):
        outs[i].append(out)
        remaining[i] -= 1
        if remaining[i] == 0:
            results[i] = _assemble(cv_jobs[i], outs[i])
            outs[i] = []
            done += 1
            if progress is not None:
                progress(done, len(cv_jobs), f"{cv_jobs[i].fs.name}/{cv_jobs[i].head_label}")
    return results


def run_cv(fs: FeatureSet, estimator, *, head_label: str, splits, search_spec=None, seed=0, inner_folds=3, jobs=1, config=None) -> CVResult:
    """Cross-validate a ready estimator on ``fs`` over ``splits`` (internal engine)."""
    job = CVJob(fs, estimator, head_label, splits, search_spec, seed, inner_folds, dict(config or {}))
    return run_jobs([job], jobs=jobs)[0]


def _assemble(job: CVJob, outs: list) -> CVResult:
    fs, splits, search_spec = job.fs, job.splits, job.search_spec
    y, n, k = fs.y, fs.n_samples, fs.n_classes
    labels = np.unique(y)
    inner = sorted({m for o in outs for m in o["inner_warnings"]})
    if inner:
        warnings.warn(f"inner search of {fs.name}/{job.head_label}: {inner[0]}" + (f" (and {len(inner) - 1} similar)" if len(inner) > 1 else ""),
                      ClassifyWarning, stacklevel=4)

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
    metrics = {m: summarise([f[m] for f in per_fold], BOUNDS[m]) for m in METRICS}
    true_all = np.concatenate([y[test] for _, test in splits])
    pred_all = np.concatenate([o["y_pred"] for o in outs])
    confusion, per_class = pooled_report(true_all, pred_all, k, fs.class_names)
    best = [] if search_spec is None else [to_jsonable(o["best_params"]) for o in outs]
    cfg = dict(job.config)
    cfg.update(n_folds=len(splits), repeats=n_rep, seed=job.seed)
    return CVResult(
        feature_set=fs.name,
        head=job.head_label,
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
        Outer folds run in parallel with joblib (-1: all cores); each fold uses one core
        (BLAS/OpenMP limited to one thread), so ``jobs`` is the number of cores used.
    splits : list of (train, test), optional
        Precomputed outer splits (e.g. shared across heads); validated.
    probability : bool
        Calibrate heads without ``predict_proba`` (svm, ridge) so log loss is available.
    head_params : dict, optional
        Fixed classifier parameters (``{"C": 0.1}``), see :func:`make_head`.
    """
    jobs = check_jobs(jobs)
    job = prepare_head_cv(
        feature_set, head, pca=pca, whiten=whiten, folds=folds, repeats=repeats, seed=seed, nested=nested,
        inner_folds=inner_folds, search=search, n_iter=n_iter, grid=grid, splits=splits, probability=probability,
        head_params=head_params,
    )
    return run_head_jobs([job], jobs=jobs)[0]


def prepare_head_cv(
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
    splits=None,
    probability: bool = False,
    head_params: dict | None = None,
) -> CVJob:
    """Validate the arguments of :func:`cross_validate_head` (but ``jobs``) and build its job."""
    fs = _check_feature_set(feature_set)
    check_head(head)
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
        if head_params:  # a parameter fixed by head_params is not searched unless the grid asks for it
            asked = set(grid or {})
            resolved = {
                k: v for k, v in resolved.items()
                if not (k.startswith("clf__") and k.rsplit("__", 1)[-1] in head_params)
                or k in asked or "clf__" + k.rsplit("__", 1)[-1] in asked
            }
        bad = [k for k, v in resolved.items() if hasattr(v, "rvs")]
        if search == "grid" and bad:
            raise GridError(f"grid key {bad[0]!r} holds a distribution, which needs search='random'; pass a list of values or search='random'")
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
    return CVJob(fs, estimator, head, splits, search_spec, seed, inner_folds, config)


def run_head_jobs(cv_jobs: list[CVJob], *, jobs: int, progress=None) -> list[CVResult]:
    try:
        return run_jobs(cv_jobs, jobs=jobs, progress=progress)
    except SplitError as exc:  # an inner split could not be made in some outer training fold
        raise SplitError(f"inner cross-validation: {exc}") from None
