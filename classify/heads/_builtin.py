"""featx's own heads as plain data: one entry per head (name, factory, default grid, plot colour,
help), registered by :mod:`featx.classify.heads._registry` on import. Light: the factories import
scikit-learn (or xgboost) only when a head is built, so reading the head names stays fast."""

from __future__ import annotations

import os

#: Values of ``pca__n_components`` searched when ``pca="search"``.
PCA_GRID: list = [0.9, 0.99]


def default_xgb_device() -> str:
    """``FEATX_XGB_DEVICE`` (cpu, cuda, auto) or ``"cpu"``."""
    return os.environ.get("FEATX_XGB_DEVICE", "cpu")


class LazyClass:
    """A head factory that imports its classifier class only when called: ``LazyClass("pkg.module:Name")(**p)``
    is ``Name(**p)``. Plain data (the path), so it pickles into joblib and Dask workers."""

    def __init__(self, path: str):
        self.path = path

    def __call__(self, **params):
        import importlib

        module, _, name = self.path.partition(":")
        return getattr(importlib.import_module(module), name)(**params)

    def __eq__(self, other):
        return isinstance(other, LazyClass) and other.path == self.path

    def __hash__(self):
        return hash(self.path)

    def __repr__(self):
        return f"LazyClass({self.path!r})"


def _xgb(**p):
    from featx.classify.heads._estimators import ReencodedXGBClassifier

    return ReencodedXGBClassifier(**{"device": default_xgb_device(), **p})


_logreg = LazyClass("sklearn.linear_model:LogisticRegression")
_svm = LazyClass("sklearn.svm:LinearSVC")
_svm_rbf = LazyClass("sklearn.svm:SVC")
_rf = LazyClass("sklearn.ensemble:RandomForestClassifier")
_knn = LazyClass("sklearn.neighbors:KNeighborsClassifier")
_ridge = LazyClass("sklearn.linear_model:RidgeClassifier")
_centroid = LazyClass("featx.classify.heads._estimators:NearestCentroidL2")


#: ``register_head`` keyword arguments of every built-in head, in the order ``HEADS`` lists them.
BUILTIN_HEADS: tuple[dict, ...] = (
    dict(name="logreg", factory=_logreg, defaults=dict(C=1.0, solver="lbfgs", max_iter=2000), seeded=True,
         parallel=False, colour="#1f77b4", help="multinomial logistic regression (lbfgs)",
         grid={"clf__C": [0.001, 0.01, 0.1, 1.0, 10.0], "pca__n_components": PCA_GRID}),
    dict(name="svm", factory=_svm, defaults=dict(C=0.01, dual="auto", max_iter=5000), seeded=True, parallel=False,
         calibrate=True, colour="#d62728", help="linear SVM (LinearSVC)",
         grid={"clf__C": [0.001, 0.01, 0.1, 1.0], "pca__n_components": PCA_GRID}),
    dict(name="svm_rbf", factory=_svm_rbf, defaults=dict(C=1.0, kernel="rbf", gamma="scale"), seeded=True,
         parallel=False, calibrate=True, colour="#9467bd", help="RBF-kernel SVM (SVC)",
         grid={"clf__C": [1.0, 10.0, 100.0], "clf__gamma": ["scale", 0.0001], "pca__n_components": PCA_GRID}),
    dict(name="rf", factory=_rf, defaults=dict(n_estimators=100, max_features="sqrt"), seeded=True, parallel=True,
         colour="#2ca02c", help="random forest",
         grid={"clf__max_features": ["sqrt", 0.05], "clf__min_samples_leaf": [1, 3], "pca__n_components": PCA_GRID}),
    dict(name="xgb", factory=_xgb, defaults={}, seeded=True, parallel=True, colour="#ff7f0e",
         help="gradient-boosted trees (xgboost hist; device from FEATX_XGB_DEVICE, default cpu)",
         grid={"clf__max_depth": [2, 4], "clf__learning_rate": [0.1, 0.3], "pca__n_components": PCA_GRID}),
    dict(name="knn", factory=_knn, defaults=dict(n_neighbors=5, weights="distance"), seeded=False, parallel=True,
         colour="#8c564b", help="k nearest neighbours",
         grid={"clf__n_neighbors": [3, 7, 15], "clf__weights": ["uniform", "distance"], "pca__n_components": PCA_GRID}),
    dict(name="ridge", factory=_ridge, defaults=dict(alpha=1.0), seeded=False, parallel=False, calibrate=True,
         colour="#e377c2", help="ridge classifier",
         grid={"clf__alpha": [0.1, 1.0, 10.0, 100.0, 1000.0], "pca__n_components": PCA_GRID}),
    dict(name="centroid", factory=_centroid, defaults={}, seeded=False, parallel=False, colour="#7f7f7f",
         help="nearest centroid on L2-normalised rows (NearestCentroidL2)", grid={"pca__n_components": PCA_GRID}),
)
