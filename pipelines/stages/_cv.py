"""Cross-validation of a job's configurations (feature set, head, splits): every fold of every
configuration in one joblib pool, or on the job's cluster; the warnings that featx.classify raises
are collected for the report."""

from __future__ import annotations

import warnings

from featx.classify.cv import features_digest, splits_digest
from featx.classify.heads import most_common_params
from featx.common.messages import first_line
from featx.pipelines.stages._keys import cv_key
from featx.pipelines.stages._stages import ResultCache, load_cv, store_cv


def cross_validate_configs(spec, configs, caught: list, client=None, on_result=None, report=None) -> list:
    """The CVResults of ``configs`` ((feature set, head, splits) each), all folds run together
    (in one joblib pool, or on ``client``'s cluster)."""
    if not configs:
        return []
    from featx.classify.cv import prepare_head_cv, run_head_jobs

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


def cv_all(spec, feature_sets, cv_cache: ResultCache, caught: list, bar, client=None, say=print):
    """Every head on every feature set of every source, on the source's one set of folds: the
    configurations the cv-cache lacks are run together (one submission, one pool or the
    cluster), then stored."""
    from featx.classify import Comparison, make_splitter

    plan, todo = [], []  # per source (name, splits, entries); the entries to compute
    try:
        for src in spec.sources:
            fsets = feature_sets[src.name]
            first = fsets[0]
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                splits = make_splitter(first.y, first.groups, folds=spec.cv.folds, repeats=spec.cv.repeats,
                                       seed=spec.cv.seed, class_names=first.class_names)
            caught += [f"{src.name}: {x.message}" for x in w]
            sdig = splits_digest(splits)
            entries = []
            for fs in fsets:
                fdig = features_digest(fs)
                for head in spec.classify.heads:
                    key = cv_key(spec, fdig, sdig, head)
                    entry = {"fs": fs, "head": head, "splits": splits, "key": key, "result": load_cv(cv_cache, key, fs)}
                    entry["cached"] = entry["result"] is not None
                    if entry["cached"]:
                        bar.update(1)
                    else:
                        todo.append(entry)
                    entries.append(entry)
            plan.append((src.name, splits, entries))

        def done(i, result):  # stored at once: a killed run keeps every configuration it finished
            store_cv(cv_cache, todo[i]["key"], result)
            todo[i]["result"] = result
            bar.set_postfix_str(f"{todo[i]['fs'].name}/{todo[i]['head']}", refresh=False)
            bar.update(1)

        cross_validate_configs(spec, [(e["fs"], e["head"], e["splits"]) for e in todo], caught, client, on_result=done,
                            report=lambda run: say(f"  cluster: {run.line()}"))
    finally:
        bar.close()
    comparisons, records = {}, []
    for name, splits, entries in plan:
        records += [record(name, e["fs"], e["result"], e["cached"]) for e in entries]
        comparisons[name] = Comparison(results=tuple(e["result"] for e in entries), splits=splits)
    return comparisons, records, {"computed": len(todo), "cached": sum(len(p[2]) for p in plan) - len(todo)}


def record(source: str, fs, r, was_cached: bool) -> dict:
    rec = {"source": source, "backbone": fs.meta["backbone"], "model": fs.meta.get("model"),
           "layer": fs.name.split(":", 1)[1], "layer_as_written": fs.meta.get("layer_as_written"),
           "depth": fs.meta.get("depth"), "feature_dim": fs.n_features}
    rec.update(r.summary_record())
    rec["params_mode"], rec["params_mode_folds"] = most_common_params(r.best_params)
    grid = r.config.get("grid") or {}
    rec["searched_params"] = sorted(k for k, v in grid.items() if not isinstance(v, (list, tuple)) or len(v) > 1)
    rec["cached"] = was_cached
    rec["best"] = False
    return rec


def pick_best(spec, comparisons, records) -> dict:
    """Each source's best record by ``metrics.main`` (marked ``best``)."""
    best = {}
    for src in spec.sources:
        top = comparisons[src.name].best(spec.metrics.main)
        rec = next(r for r in records if r["source"] == src.name and r["feature_set"] == top.feature_set and r["head"] == top.head)
        rec["best"] = True
        best[src.name] = rec
    return best
