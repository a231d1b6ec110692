"""Cross-validation of a job's configurations (feature set, head, splits): every fold of every
configuration in one joblib pool, or on the job's cluster; the warnings that featx.classify raises
are collected for the report."""

from __future__ import annotations

import warnings
from featx.common.messages import first_line


def cross_validate_configs(spec, configs, caught: list, client=None, on_result=None, report=None) -> list:
    """The CVResults of ``configs`` ((feature set, head, splits) each), all folds run together
    (in one joblib pool, or on ``client``'s cluster)."""
    if not configs:
        return []
    from featx.classify import prepare_head_cv, run_head_jobs

    c, cv = spec.classify, spec.cv
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        jobs = [prepare_head_cv(fs, head, pca=c.pca_for(head), whiten=c.whiten, seed=cv.seed, nested=cv.nested,
                                inner_folds=cv.inner_folds, search=cv.search, n_iter=cv.n_iter,
                                search_metric=spec.search_metric, grid=c.grid_overrides(head) if cv.nested else None,
                                splits=splits, probability=c.probability)
                for fs, head, splits in configs]
        results = run_head_jobs(jobs, jobs=c.jobs, cluster=client, report=report, on_result=on_result)
    for x in w:  # featx.classify names the configuration in each warning ("lite0:blocks.1/logreg: ...")
        text = first_line(x.message, 200)
        if x.category.__name__ in ("ConvergenceWarning", "ClassifyWarning", "UserWarning"):
            caught.append(f"{x.category.__name__}: {text}")
    return results


def cross_validate_one(spec, fs, head: str, splits, caught: list, client=None):
    """One configuration's CVResult (see :func:`cross_validate_configs`)."""
    return cross_validate_configs(spec, [(fs, head, splits)], caught, client)[0]
