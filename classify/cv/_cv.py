"""Cross-validation of one head on one feature set (plain or nested), folds run with joblib.

Every step that learns from data (scaling, PCA, the hyperparameter search, stacking's meta
learner) is fitted on the training part of each outer fold only: the whole Pipeline (or the
search wrapping it) is cloned and fitted per fold, and test rows are only ever predicted.
"""

from __future__ import annotations

import dataclasses
import inspect
import tempfile
import time
import warnings

import numpy as np
from joblib import Memory, Parallel, delayed
from sklearn.base import clone
from sklearn.ensemble import StackingClassifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from featx.common import to_jsonable

from featx.classify.cv._cluster import cluster_pool
from featx.classify._errors import ClassifyWarning, GridError, ParameterError, SplitError, check_option
from featx.classify._features import FeatureSet
from featx.classify.heads._grids import PCA_GRID, SEARCH, check_search, grid_size, is_search_pca, resolve_grid
from featx.classify.heads._heads import PROBABILITY, WHITEN, check_pca, head_entry, make_head
from featx.classify._metrics import (
    BOUNDS,
    METRIC,
    METRICS,
    SEARCH_METRIC,
    MetricScorer,
    check_metric,
    fold_metrics,
    global_scores,
    pooled_report,
    summarise,
)
from featx.classify.heads._options import CV_OPTIONS, INNER_FOLDS, JOBS, N_ITER, NESTED  # noqa: F401 (re-exported)
from featx.classify.cv._result import CVResult
from featx.classify.cv._splits import FOLDS, REPEATS, SEED, check_splits, make_splitter, repeat_ids
from featx.common.messages import first_line


def check_jobs(jobs) -> int:
    return check_option(JOBS, jobs, "an int >= 1 or -1 (all cores)")


def check_search_metric(search_metric, metric) -> str:
    """The metric the inner search optimises: ``search_metric``, or ``metric`` when it is None."""
    metric = check_metric(metric)
    chosen = check_metric(search_metric, SEARCH_METRIC)
    return metric if chosen is None else chosen


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


def make_search(estimator, grid, *, search, n_iter, inner, seed, metric="balanced_accuracy", n_jobs=1):
    """The ``GridSearchCV``/``RandomizedSearchCV``/``HalvingGridSearchCV`` over ``grid`` on the splits ``inner``, scored
    by ``metric`` of ``METRICS`` (computed as the CV reports it) and refit on all its rows."""
    common = dict(cv=inner, scoring=MetricScorer(metric), refit=True, n_jobs=n_jobs, error_score=np.nan)
    if search == "grid":
        return GridSearchCV(estimator, grid, **common)
    if search == "halving":
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401 (makes the class importable)
        from sklearn.model_selection import HalvingGridSearchCV

        # each round subsamples the training rows of the same inner splits (resource: n_samples)
        return HalvingGridSearchCV(estimator, grid, factor=3, random_state=seed, **common)
    size = grid_size(grid)
    n = n_iter if size is None else min(n_iter, size)
    return RandomizedSearchCV(estimator, grid, n_iter=n, random_state=seed, **common)


def fit_search(searcher, X, y, *, where: str):
    """Fit ``searcher``; a grid whose every candidate failed is a :class:`GridError` naming ``where``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(Scoring failed|One or more of the test scores|Persisting input arguments).*")
        warnings.filterwarnings("ignore", category=FitFailedWarning)
        try:
            searcher.fit(X, y)
        except ValueError as exc:
            if "fits failed" not in str(exc):
                raise
            detail = [line for line in str(exc).splitlines() if line.strip()][-1].strip()
            raise GridError(
                f"every candidate of the grid failed on {where} (last error: {detail}); "
                f"fix the grid values or pick ones that suit this data size"
            ) from None
    return searcher


def _run_fold(estimator, X, y, groups, train, test, n_classes, search_spec, seed, inner_folds, on_cluster=False):
    # one core per fold: ``jobs`` is the number of cores a CV uses, and multithreaded BLAS on
    # small matrices mostly spin-waits (15x more CPU time on a busy 2-core machine)
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = _run_fold_body(estimator, X, y, groups, train, test, n_classes, search_spec, seed, inner_folds, on_cluster)
    # a fold's warnings travel back with its result (from a worker process or a cluster too)
    out["fit_warnings"] = [(w.category, first_line(w.message, 200))
                           for w in caught if issubclass(w.category, _FOLD_WARNINGS)]
    return out


#: warnings of a fold's fit that are shown to the user (once per configuration)
_FOLD_WARNINGS = (UserWarning, RuntimeWarning, FutureWarning)


def _run_fold_body(estimator, X, y, groups, train, test, n_classes, search_spec, seed, inner_folds, on_cluster):
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
            # on a cluster the candidates' fits run on other workers (other machines): no shared
            # folder for the cache there, and fitting PCA again gives the same transformer
            if not on_cluster and isinstance(est, Pipeline) and est.named_steps.get("pca", "passthrough") != "passthrough":
                # candidates that share scale/PCA parameters reuse the fitted transformers of an
                # inner fold instead of refitting PCA for every classifier setting
                est.set_params(memory=Memory(cache, verbose=0))
            searcher = make_search(est, search_spec["grid"], search=search_spec["search"], n_iter=search_spec["n_iter"],
                                   inner=inner_splits(), seed=seed, metric=search_spec["metric"],
                                   n_jobs=-1 if on_cluster else 1)  # on a cluster: the grid points are cluster tasks too
            fit_search(searcher, X_train, y_train, where=f"an outer training fold of {len(train)} rows")
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

    def tasks(self, on_cluster: bool = False):
        # X, y and groups are arguments as they are (the same objects): on a cluster they are
        # scattered once and every task refers to them by key (see _cluster.cluster_pool)
        fs = self.fs
        return [
            delayed(_run_fold)(self.estimator, fs.X, fs.y, fs.groups, train, test, fs.n_classes,
                               self.search_spec, self.seed, self.inner_folds, on_cluster)
            for train, test in self.splits
        ]


def run_jobs(cv_jobs: list[CVJob], *, jobs: int = 1, progress=None, cluster=None, report=None,
             on_result=None) -> list[CVResult]:
    """Run the folds of all configurations in one joblib pool (balanced across workers), or
    on ``cluster`` (a ``CLUSTER`` value or a ``distributed.Client``; ``jobs`` is then the
    cluster's cores), with the same results.

    ``progress(done, total, label)`` is called as each configuration completes, in order, and
    ``on_result(i, result)`` with the ``i``-th job's result (e.g. to store it at once);
    ``report(ClusterRun)`` once at the end of a cluster run.
    """
    shared = [a for job in cv_jobs for a in (job.fs.X, job.fs.y, job.fs.groups)]
    with cluster_pool(cluster, shared, report=report) as run:
        on_cluster = run is not None
        tasks, owner = [], []
        for i, job in enumerate(cv_jobs):
            t = job.tasks(on_cluster)
            tasks += t
            owner += [i] * len(t)
        if on_cluster:
            run.tasks, run.configurations = len(tasks), len(cv_jobs)
        remaining = [len(job.splits) for job in cv_jobs]
        outs: list[list] = [[] for _ in cv_jobs]
        results: list[CVResult | None] = [None] * len(cv_jobs)
        done = 0
        for i, out in zip(owner, Parallel(n_jobs=-1 if on_cluster else jobs, return_as="generator")(tasks)):
            outs[i].append(out)
            remaining[i] -= 1
            if remaining[i] == 0:
                results[i] = _assemble(cv_jobs[i], outs[i])
                outs[i] = []
                done += 1
                if on_result is not None:
                    on_result(i, results[i])
                if progress is not None:
                    progress(done, len(cv_jobs), f"{cv_jobs[i].fs.name}/{cv_jobs[i].head_label}")
    return results


def run_cv(fs: FeatureSet, estimator, *, head_label: str, splits, search_spec=None, seed=0, inner_folds=3, jobs=1, config=None,
           cluster=None) -> CVResult:
    """Cross-validate a ready estimator on ``fs`` over ``splits`` (internal engine)."""
    job = CVJob(fs, estimator, head_label, splits, search_spec, seed, inner_folds, dict(config or {}))
    return run_jobs([job], jobs=jobs, cluster=cluster)[0]


def _assemble(job: CVJob, outs: list) -> CVResult:
    fs, splits, search_spec = job.fs, job.splits, job.search_spec
    y, n, k = fs.y, fs.n_samples, fs.n_classes
    labels = np.unique(y)
    inner = sorted({m for o in outs for m in o["inner_warnings"]})
    if inner:
        warnings.warn(f"inner search of {fs.name}/{job.head_label}: {inner[0]}" + (f" (and {len(inner) - 1} similar)" if len(inner) > 1 else ""),
                      ClassifyWarning, stacklevel=4)
    for category, message in dict.fromkeys(w for o in outs for w in o.get("fit_warnings", ())):
        warnings.warn(f"{fs.name}/{job.head_label}: {message}", category, stacklevel=4)

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
    head,
    *,
    pca=None,
    whiten: bool = WHITEN.default,
    folds: int = FOLDS.default, repeats: int = REPEATS.default, seed: int = SEED.default,  # the splits
    nested: bool = NESTED.default,
    inner_folds: int = INNER_FOLDS.default,
    search: str = SEARCH.default,
    n_iter: int = N_ITER.default,
    grid: dict | None = None,
    jobs: int = 1,
    splits=None,
    probability: bool = PROBABILITY.default,
    head_params: dict | None = None,
    metric: str = METRIC.default,
    search_metric: str | None = SEARCH_METRIC.default,
    cluster=None,
) -> CVResult:
    """Cross-validate ``head`` on ``feature_set`` and return a :class:`CVResult`.

    Parameters
    ----------
    feature_set : FeatureSet
        Labelled rows (every class with >= 2 samples).
    head : str, scikit-learn classifier or (label, classifier)
        One of ``HEADS``, or your own estimator or ``Pipeline`` (cloned and fitted per fold as
        given; ``pca``, ``whiten``, ``probability`` and ``head_params`` are for named heads only).
    pca : None, "off", int, float in (0, 1) or "search"
        PCA inside the pipeline (refit per training fold). ``"search"`` (nested only) searches
        ``pca__n_components`` over the default grid values.
    folds, repeats, seed
        Outer splits from :func:`make_splitter` (ignored when ``splits`` is given).
    nested : bool
        Tune hyperparameters with an inner ``GridSearchCV``/``RandomizedSearchCV`` (``search``,
        ``n_iter``) over ``inner_folds`` stratified (grouped) folds of each outer training fold,
        scored by ``search_metric``, refit on the whole training fold; the chosen parameters of
        each outer fold are in ``result.best_params``. A named head searches its default grid
        (with ``grid``'s overrides); your own estimator searches ``grid`` only (no grid: plain fit).
    grid : dict, optional
        Overrides of ``DEFAULT_GRIDS[head]`` (see :func:`resolve_grid`), or the whole grid of
        your own estimator (its ``get_params()`` names); needs ``nested=True``.
    jobs : int
        Outer folds run in parallel with joblib (-1: all cores); each fold uses one core
        (BLAS/OpenMP limited to one thread), so ``jobs`` is the number of cores used.
    splits : list of (train, test), optional
        Precomputed outer splits (e.g. shared across heads); validated.
    probability : bool
        Calibrate heads without ``predict_proba`` (svm, ridge) so log loss is available.
    head_params : dict, optional
        Fixed classifier parameters (``{"C": 0.1}``), see :func:`make_head`.
    metric : str
        The metric of ``METRICS`` you rank results by (recorded in ``result.config``).
    search_metric : str, optional
        The metric the inner search maximises (minimises for log_loss); default ``metric``.
    cluster : str or distributed.Client, optional
        Run the folds (and a nested search's grid points) on a Dask cluster: ``"local:N"``, a
        scheduler address (``"tcp://host:8786"``) or a ``Client`` (see
        :mod:`featx.common.cluster`); ``jobs`` is then ignored. The features are sent to every
        worker once; the result is the same as without a cluster.
    """
    settings = dict(locals())
    jobs = check_jobs(settings.pop("jobs"))
    cluster = check_cluster(settings.pop("cluster"))
    return run_head_jobs([_head_job(**settings)], jobs=jobs, cluster=cluster)[0]


_SIGNATURE = inspect.signature(cross_validate_head)


def prepare_head_cv(feature_set: FeatureSet, head, **settings) -> CVJob:
    """The job of ``cross_validate_head(feature_set, head, **settings)`` (any of its arguments
    but ``jobs``), validated, to run with others in one pool by :func:`run_head_jobs`."""
    for name in ("jobs", "cluster"):
        if name in settings:
            raise TypeError(f"prepare_head_cv() takes no {name!r}: pass it to run_head_jobs")
    bound = _SIGNATURE.bind(feature_set, head, **settings)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    del arguments["jobs"], arguments["cluster"]
    return _head_job(**arguments)


def _head_job(*, feature_set, head, pca, whiten, folds, repeats, seed, nested, inner_folds, search, n_iter, grid,
              splits, probability, head_params, metric, search_metric) -> CVJob:
    fs = _check_feature_set(feature_set)
    label, custom = head_entry(head)
    nested = check_option(NESTED, nested)
    search_metric = check_search_metric(search_metric, metric)
    search_pca = is_search_pca(pca)
    if search_pca and not nested:
        raise ParameterError("pca='search' needs nested=True (a hyperparameter search); pass a fixed pca such as 0.95")
    if grid is not None and not nested:
        raise ParameterError("a grid is only used by a search: pass nested=True, or fix the parameters with head_params")
    if not search_pca:
        check_pca(pca)
    search = check_search(search)
    n_iter = check_option(N_ITER, n_iter)
    inner_folds = check_option(INNER_FOLDS, inner_folds)
    if custom is not None:
        estimator, resolved = _custom_estimator(label, custom, grid, pca=pca, whiten=whiten, probability=probability,
                                                head_params=head_params)
    else:
        estimator, resolved = _named_estimator(fs, label, grid, pca=pca, whiten=whiten, seed=seed, nested=nested,
                                               probability=probability, head_params=head_params)
    search_spec = None
    if nested:
        bad = [k for k, v in resolved.items() if hasattr(v, "rvs")]
        if search == "grid" and bad:
            raise GridError(f"grid key {bad[0]!r} holds a distribution, which needs search='random'; pass a list of values or search='random'")
        if search_metric == "log_loss" and resolved and not hasattr(estimator, "predict_proba"):
            raise ParameterError(f"search_metric='log_loss' needs probabilities, which head {label!r} does not give; "
                                 f"pass probability=True or another search_metric")
        search_spec = {"grid": resolved, "search": search, "n_iter": n_iter, "metric": search_metric}
    splits = _resolve_splits(fs, splits, folds=folds, repeats=repeats, seed=seed)
    config = {
        "head": label, "pca": pca, "whiten": whiten, "nested": nested, "inner_folds": inner_folds if nested else None,
        "search": search if nested else None, "n_iter": n_iter if nested and search == "random" else None,
        "grid": search_spec["grid"] if nested else None, "probability": probability, "head_params": dict(head_params or {}),
        "groups": fs.groups is not None, "metric": metric, "search_metric": search_metric if nested else None,
    }
    if custom is not None:
        config["estimator"] = repr(custom)
    return CVJob(fs, estimator, label, splits, search_spec, seed, inner_folds, config)


def _named_estimator(fs, head, grid, *, pca, whiten, seed, nested, probability, head_params):
    """The Pipeline of a named head and its search grid (``{}`` without a search)."""
    resolved = {}
    if nested:
        resolved = resolve_grid(head, grid, pca=pca, probability=probability)
        if head_params:  # a parameter fixed by head_params is not searched unless the grid asks for it
            asked = set(grid or {})
            resolved = {
                k: v for k, v in resolved.items()
                if not (k.startswith("clf__") and k.rsplit("__", 1)[-1] in head_params)
                or k in asked or "clf__" + k.rsplit("__", 1)[-1] in asked
            }
    build_pca = PCA_GRID[0] if is_search_pca(pca) else pca  # placeholder: the search sets pca__n_components
    estimator = build_estimator(fs, head, pca=build_pca, whiten=whiten, seed=seed, probability=probability, head_params=head_params)
    return estimator, resolved


def _custom_estimator(label, estimator, grid, *, pca, whiten, probability, head_params):
    """A user's classifier as given and its grid (checked against its ``get_params()``)."""
    from featx.classify.heads._heads import pca_enabled

    given = [name for name, on in (("pca", is_search_pca(pca) or pca_enabled(pca)), ("whiten", whiten),
                                   ("probability", probability), ("head_params", bool(head_params))) if on]
    if given:
        raise ParameterError(f"{', '.join(given)} configure featx's named heads, not your estimator {label!r}; "
                             f"build the step into your estimator (or its Pipeline) instead")
    if grid is not None and not isinstance(grid, dict):
        raise GridError(f"the grid of head {label!r} must be a dict of parameter -> values, got {type(grid).__name__}")
    params = estimator.get_params(deep=True)
    resolved = {}
    for key, values in (grid or {}).items():
        if key not in params:
            ends = [p for p in sorted(params) if p.endswith(f"__{key}")]
            hint = f"did you mean {' or '.join(map(repr, ends))}? " if ends else ""
            raise GridError(f"unknown grid key for head {label!r}: {key!r}; {hint}grid keys are the estimator's "
                            f"get_params() names, such as {', '.join(sorted(p for p in params if '__' in p)[:4])}")
        if not hasattr(values, "rvs"):
            values = [values] if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") else list(values)
            if not values:
                raise GridError(f"grid key {key!r} of head {label!r} has an empty value list; give at least one value")
        resolved[key] = values
    return estimator, resolved


def check_cluster(cluster):
    """``cluster`` checked as ``featx.common.cluster.CLUSTER`` (a Client passes as it is)."""
    from featx.common import OptionError
    from featx.common.cluster import CLUSTER

    try:
        return CLUSTER.check(cluster)
    except OptionError as exc:
        raise ParameterError(f"{exc} (or pass a distributed.Client)") from None


def run_head_jobs(cv_jobs: list[CVJob], *, jobs: int, progress=None, cluster=None, report=None,
                  on_result=None) -> list[CVResult]:
    """Run prepared jobs (:func:`prepare_head_cv`) together: all their folds in one pool, or on
    ``cluster``; ``on_result(i, result)`` as each completes, ``report(ClusterRun)`` after a
    cluster run (see :func:`run_jobs`)."""
    try:
        return run_jobs(cv_jobs, jobs=jobs, progress=progress, cluster=cluster, report=report, on_result=on_result)
    except SplitError as exc:  # an inner split could not be made in some outer training fold
        raise SplitError(f"inner cross-validation: {exc}") from None
