"""Cross-validation on a Dask cluster (a loopback LocalCluster of 2 one-thread worker processes)
gives what one process gives: the same folds, out-of-fold predictions and probabilities, chosen
parameters and every metric. The fits are seen running in the workers' processes, and the
features reach them as one scattered array, not inside every task."""

from __future__ import annotations

import glob
import json
import math
import os
import sys
import uuid

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
import distributed  # noqa: F401 - a core dependency: imported, never skipped

from featx.classify import FeatureSet, ParameterError, compare, cross_validate_head
from featx.common.cluster import ClusterError, local_cluster

HEADS = ("logreg", "svm", "rf", "xgb")
#: small grids: two candidates each, so the inner searches have grid points to send out
GRIDS = {"logreg": {"clf__C": [0.1, 1.0]}, "svm": {"clf__C": [0.01, 1.0]},
         "rf": {"clf__min_samples_leaf": [1, 3], "clf__n_estimators": [20]},
         "xgb": {"clf__max_depth": [2], "clf__learning_rate": [0.1, 0.3], "clf__n_estimators": [20]}}


@pytest.fixture(scope="module")
def client():
    import distributed

    with local_cluster(2) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def fs() -> FeatureSet:
    """Learnable but not trivial (3 classes, some errors), so predictions and probabilities vary."""
    X, y = make_classification(n_samples=90, n_features=12, n_informative=5, n_classes=3, class_sep=0.9, random_state=3)
    return FeatureSet("synth", X.astype(np.float32), y, ["a", "b", "c"])


def _settings():
    return dict(nested=True, folds=3, inner_folds=2, seed=7, grids=GRIDS, probability=True)


@pytest.fixture(scope="module")
def local_and_cluster(fs, client):
    local = compare(fs, list(HEADS), jobs=1, **_settings())
    on_cluster = compare(fs, list(HEADS), cluster=client, **_settings())
    return local, on_cluster


def _same_metrics(a: dict, b: dict) -> bool:
    def same(x, y):
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            return True
        return x == y

    return a.keys() == b.keys() and all(a[m].keys() == b[m].keys() and all(same(a[m][k], b[m][k]) for k in a[m]) for m in a)


@pytest.mark.parametrize("head", HEADS)
def test_nested_cv_on_the_cluster_equals_one_process(local_and_cluster, head):
    local, on_cluster = local_and_cluster
    a, b = local.get("synth", head), on_cluster.get("synth", head)
    assert [(tr.tolist(), te.tolist()) for tr, te in a.fold_indices] == [(tr.tolist(), te.tolist()) for tr, te in b.fold_indices]
    np.testing.assert_array_equal(a.oof_pred, b.oof_pred)
    assert a.oof_proba is not None
    np.testing.assert_array_equal(a.oof_proba, b.oof_proba)  # bitwise: same fits, same order
    assert a.best_params == b.best_params and len(a.best_params) == 3
    assert _same_metrics(a.metrics, b.metrics)
    np.testing.assert_array_equal(a.confusion, b.confusion)
    assert repr(a.per_class) == repr(b.per_class)
    assert a.config == b.config  # nothing about where it ran leaks into the result
    # a real comparison: the heads did not all predict one class
    assert 0.4 < a.metrics["balanced_accuracy"]["mean"] < 1.0


class WhereFitted(ClassifierMixin, BaseEstimator):
    """Nearest class mean, recording in ``folder`` the process of every fit and the keys of the
    worker's data that hold an array of shape ``full_shape`` (the whole feature matrix)."""

    def __init__(self, folder=None, full_shape=None, shrink=0.0):
        self.folder = folder
        self.full_shape = full_shape
        self.shrink = shrink

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.means_ = np.stack([X[y == c].mean(0) * (1 - self.shrink) for c in self.classes_])
        record = {"pid": os.getpid(), "rows": len(y), "keys": None}
        try:
            from distributed import get_worker

            data = get_worker().data
            record["keys"] = sorted(str(k) for k in list(data.keys())
                                    if getattr(data[k], "shape", None) == tuple(self.full_shape))
        except ValueError:  # not in a worker
            pass
        with open(os.path.join(self.folder, f"{uuid.uuid4().hex}.json"), "w") as fh:
            json.dump(record, fh)
        return self

    def predict(self, X):
        d = ((X[:, None, :] - self.means_[None]) ** 2).sum(-1)
        return self.classes_[d.argmin(1)]


def _records(folder) -> list[dict]:
    out = []
    for path in glob.glob(os.path.join(folder, "*.json")):
        with open(path) as fh:
            out.append(json.load(fh))
    return out


def test_folds_and_grid_points_run_on_the_workers_with_the_features_scattered_once(fs, client, tmp_path):
    est = WhereFitted(folder=str(tmp_path), full_shape=list(fs.X.shape))
    grid = {"shrink": [0.0, 0.1, 0.2]}
    local = cross_validate_head(fs, ("where", est), nested=True, folds=3, inner_folds=2, grid=grid, seed=1)
    for path in glob.glob(str(tmp_path / "*.json")):
        os.remove(path)
    result = cross_validate_head(fs, ("where", est), nested=True, folds=3, inner_folds=2, grid=grid, seed=1, cluster=client)
    np.testing.assert_array_equal(local.oof_pred, result.oof_pred)
    assert local.best_params == result.best_params

    records = _records(tmp_path)
    # per outer fold: 3 candidates x 2 inner folds, then the refit of the best one
    assert len(records) == 3 * (3 * 2 + 1)
    workers = set(client.run(os.getpid).values())
    assert len(workers) == 2 and os.getpid() not in workers
    assert {r["pid"] for r in records} <= workers, "every fit, the inner searches' too, ran in a worker process"
    outer = [r for r in records if r["rows"] == 60]
    inner = [r for r in records if r["rows"] < 60]
    assert len(outer) == 3 and len(inner) == 18
    # the features are one piece of data on the cluster, the same key for every task on every
    # worker: scattered once (inlined in each task, no worker would hold them as data at all)
    keys = {tuple(r["keys"]) for r in records}
    assert len(keys) == 1 and len(next(iter(keys))) == 1, keys


def test_run_head_jobs_on_the_cluster_reports_where_and_how_much(fs, client):
    from featx.classify import prepare_head_cv, run_head_jobs

    jobs = [prepare_head_cv(fs, head, folds=3, seed=0) for head in ("logreg", "centroid")]
    runs = []
    results = run_head_jobs(jobs, jobs=1, cluster=client, report=runs.append)
    assert [r.head for r in results] == ["logreg", "centroid"]
    (run,) = runs
    assert run.tasks == 6 and run.configurations == 2
    assert run.scattered == 2 and run.scattered_bytes == fs.X.nbytes + fs.y.nbytes  # X and y, once
    assert run.where.startswith("2 worker(s) at tcp://127.0.0.1:")
    assert "6 fold task(s) of 2 configuration(s) on 2 worker(s)" in run.line()


def test_local_n_is_started_for_the_call_and_gives_the_same_result(fs):
    local = cross_validate_head(fs, "logreg", folds=3, seed=0)
    on_cluster = cross_validate_head(fs, "logreg", folds=3, seed=0, cluster="local:1")
    np.testing.assert_array_equal(local.oof_proba, on_cluster.oof_proba)


def test_a_bad_cluster_value_is_one_clear_error(fs):
    with pytest.raises(ParameterError, match=r"'local:0': write 'local:N' with N >= 1 worker processes"):
        cross_validate_head(fs, "logreg", cluster="local:0")
    with pytest.raises(ParameterError, match=r"neither 'local:N' nor a scheduler address"):
        compare(fs, ["logreg"], cluster="my laptop")


def test_without_distributed_the_error_names_the_install(fs, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what a missing install looks like to import
    install = r"install them: pip install 'dask\[distributed\]'$"
    with pytest.raises(ClusterError, match=r"^a cluster needs dask and distributed .*" + install):
        cross_validate_head(fs, "logreg", folds=3, cluster="local:2")
