"""Our own scikit-learn estimators: nearest-centroid on the unit sphere, an XGBoost wrapper that
keeps a fixed class space, and a column slicer for ensembles over concatenated feature sets."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.classify._errors import ParameterError


def _l2_normalise(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, np.finfo(X.dtype).tiny if X.dtype.kind == "f" else 1e-12)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class NearestCentroidL2(ClassifierMixin, BaseEstimator):
    """Nearest class mean on L2-normalised features (cosine similarity to class prototypes).

    The prototypical-network baseline for few-shot data: each row is scaled to unit length, each
    class is represented by the normalised mean of its rows, and a row goes to the most similar
    prototype. ``predict_proba`` is a softmax of the similarities times ``temperature``.

    Parameters
    ----------
    temperature : float, default=10.0
        Inverse softmax temperature applied to cosine similarities (in [-1, 1]) for probabilities.
    """

    def __init__(self, temperature: float = 10.0):
        self.temperature = temperature

    def fit(self, X, y):
        if not (isinstance(self.temperature, (int, float)) and not isinstance(self.temperature, bool) and self.temperature > 0):
            raise ParameterError(
                f"The 'temperature' parameter of NearestCentroidL2 must be a float > 0. Got {self.temperature!r} instead."
            )
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        Xn = _l2_normalise(X)
        centroids = np.zeros((self.classes_.size, X.shape[1]), dtype=X.dtype)
        np.add.at(centroids, y_idx, Xn)
        centroids /= np.bincount(y_idx, minlength=self.classes_.size)[:, None]
        self.centroids_ = _l2_normalise(centroids)
        return self

    def _similarities(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return _l2_normalise(X) @ self.centroids_.T

    def decision_function(self, X):
        sims = self._similarities(X)
        if self.classes_.size == 2:
            return sims[:, 1] - sims[:, 0]
        return sims

    def predict_proba(self, X):
        return _softmax(self.temperature * self._similarities(X).astype(np.float64))

    def predict(self, X):
        check_is_fitted(self)
        return self.classes_[np.argmax(self._similarities(X), axis=1)]


class ReencodedXGBClassifier(ClassifierMixin, BaseEstimator):
    """XGBoost classifier that re-encodes labels on every fit and answers in a fixed class space.

    XGBoost wants labels ``0..k-1`` with every class present, which a cross-validation training
    fold may not have. This wrapper encodes the classes seen in ``fit`` itself and maps
    ``predict_proba`` back to ``classes_``: with ``classes`` given (e.g. ``range(n_classes)``),
    ``classes_`` is that global set and columns of classes absent from the training rows are 0;
    otherwise ``classes_`` are the labels seen in ``fit``. A training set with one class only
    yields a constant predictor.

    Parameters mirror ``xgboost.XGBClassifier`` (``max_bin`` defaults to 64, plenty for the
    hundreds to thousands of rows of a transfer-learning set, and ~3x faster than 256); ``device`` is ``"cpu"``, ``"cuda"`` or
    ``"auto"`` (cuda when xgboost was built with CUDA and an NVIDIA device node exists; no torch).
    """

    def __init__(
        self,
        n_estimators: int = 100,
        max_depth: int = 4,
        learning_rate: float = 0.1,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        max_bin: int = 64,
        tree_method: str = "hist",
        device: str = "cpu",
        n_jobs: int = 1,
        random_state: int = 0,
        classes=None,
    ):
        # store every keyword argument as given, nothing else (scikit-learn's contract)
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.tree_method = tree_method
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.classes = classes

    def fit(self, X, y):
        from xgboost import XGBClassifier

        device = resolve_xgb_device(self.device)
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        check_classification_targets(y)
        seen = np.unique(y)
        if self.classes is None:
            self.classes_ = seen
        else:
            self.classes_ = np.unique(np.asarray(self.classes))
            unknown = np.setdiff1d(seen, self.classes_)
            if unknown.size:
                raise ParameterError(
                    f"labels {unknown[:5].tolist()} are not in classes={self.classes_.tolist()}; "
                    f"pass every label in 'classes' or leave it None"
                )
        self.seen_classes_ = seen
        self.class_columns_ = np.searchsorted(self.classes_, seen)  # column of each seen class
        if seen.size == 1:
            self.booster_ = None
            return self
        y_enc = np.searchsorted(seen, y)
        model = XGBClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            min_child_weight=self.min_child_weight,
            reg_lambda=self.reg_lambda,
            max_bin=self.max_bin,
            tree_method=self.tree_method,
            device=device,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            verbosity=0,
        )
        model.fit(X, y_enc)
        self.booster_ = model
        return self

    def __setstate__(self, state):
        # bundles saved before the fitted attribute got its trailing underscore
        if "_columns" in state:
            state = {**state, "class_columns_": state["_columns"]}
            del state["_columns"]
        super().__setstate__(state)

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        proba = np.zeros((X.shape[0], self.classes_.size), dtype=np.float64)
        if self.booster_ is None:
            proba[:, self.class_columns_[0]] = 1.0
        else:
            proba[:, self.class_columns_] = self.booster_.predict_proba(X)
        return proba

    def predict(self, X):
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def resolve_xgb_device(device: str) -> str:
    """``"cpu"``/``"cuda"``/``"cuda:N"`` as given; ``"auto"`` -> cuda when usable, else cpu."""
    if device == "auto":
        import os

        import xgboost

        built = bool(xgboost.build_info().get("USE_CUDA"))
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0") not in ("", "-1")
        return "cuda" if built and visible and os.path.exists("/dev/nvidiactl") else "cpu"
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda") or device == "gpu"):
        raise ParameterError(f"The 'device' parameter of the xgb head must be one of 'auto', 'cpu', 'cuda'. Got {device!r} instead.")
    return device


class ColumnSlice(TransformerMixin, BaseEstimator):
    """Select columns ``start:stop`` (one feature set's block of a concatenated matrix)."""

    def __init__(self, start: int = 0, stop: int | None = None):
        self.start = start
        self.stop = stop

    def fit(self, X, y=None):
        validate_data(self, X, dtype=[np.float32, np.float64])
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        return X[:, self.start : self.stop]
