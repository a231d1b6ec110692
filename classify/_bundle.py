"""Fitted heads saved with their provenance: ``fit_bundle``, ``save_bundle``, ``load_bundle``.

Two file formats, chosen by the file name:

* ``.skops`` (recommended): ``skops.io``, a format made for scikit-learn models that stores
  objects as data, not as a pickle. Loading it constructs only types on an explicit allow-list,
  exactly the types featx itself writes (:func:`trusted_types`); a file holding anything else is
  refused before any object is built, so a bundle from a stranger cannot run code.
* anything else (e.g. ``.joblib``): a joblib pickle. Loading a pickle runs code chosen by whoever
  wrote it, so only load such bundles from trusted sources. A ``.sha256`` sidecar written by
  ``save_bundle`` is checked before unpickling; it catches damaged or swapped files, not a
  malicious author who can rewrite both files. Loading one warns (:class:`PickleBundleWarning`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import warnings
import zipfile

import numpy as np
from threadpoolctl import threadpool_limits

from featx.common import atomic_write, to_jsonable, versions, write_text

from featx.classify.cv._cv import N_ITER, _check_feature_set, build_estimator, check_jobs, fit_search, make_search
from featx.classify._errors import (
    BundleIntegrityError,
    IncompatibleBundleError,
    OutputExistsError,
    ParameterError,
    check_option,
)
from featx.classify._features import FeatureSet
from featx.classify.heads._grids import PCA_GRID, SEARCH, check_search, is_search_pca, resolve_grid
from featx.classify.heads._heads import PROBABILITY, WHITEN, check_head, check_pca
from featx.classify._metrics import METRIC, check_metric, global_scores
from featx.classify.cv._splits import SEED, make_splitter
from featx.common.messages import first_line

#: The libraries whose versions a bundle records.
VERSION_DISTS = ("featx", "scikit-learn", "xgboost", "numpy", "joblib")

#: Provenance keys compared by ``Bundle.check_compatible`` (when present on both sides).
COMPAT_KEYS: tuple[str, ...] = ("model", "weights_sha256", "preprocessing", "layer", "pooling", "feature_dim")

TRUST_NOTE = "joblib bundles are pickles: only load files from trusted sources (or save as .skops)"
SKOPS_SUFFIX = ".skops"


class PickleBundleWarning(UserWarning):
    """A joblib (pickle) bundle is being loaded: it could run code if its author wanted it to."""


def _type_name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def trusted_types() -> frozenset[str]:
    """The types a featx ``.skops`` bundle may hold beyond those skops trusts by default (plain
    scikit-learn estimators, numpy and scipy): the ones featx's own heads write. Anything else
    in a file is refused."""
    from sklearn.calibration import _CalibratedClassifier, _SigmoidCalibration
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics._dist_metrics import EuclideanDistance64
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.tree._tree import Tree

    from featx.classify.heads._estimators import ColumnSlice, NearestCentroidL2, ReencodedXGBClassifier

    names = {_type_name(c) for c in (Bundle, NearestCentroidL2, ReencodedXGBClassifier, ColumnSlice, Tree,
                                     _CalibratedClassifier, _SigmoidCalibration, IsotonicRegression,
                                     EuclideanDistance64, KDTree, BallTree)}
    names |= {"xgboost.core.Booster", "xgboost.sklearn.XGBClassifier"}
    return frozenset(names)


def is_skops_file(path: str) -> bool:
    """True for a file written by skops.io (a zip archive with a ``schema.json``)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "schema.json" in zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _skops():
    try:
        import skops.io as sio
    except ImportError:  # pragma: no cover - skops is a dependency
        from featx.classify._errors import MissingDependencyError

        raise MissingDependencyError("saving and loading .skops bundles needs skops; pip install skops") from None
    return sio


def _canonical(value) -> str:
    """JSON text that ignores list/tuple, numpy and 224 vs 224.0 differences."""

    def norm(v):
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    return json.dumps(norm(to_jsonable(value)), sort_keys=True)


@dataclasses.dataclass(eq=False)
class Bundle:
    """A head fitted on every row of a feature set, with the provenance of those features.

    ``meta`` holds the training feature set's provenance as given (model spec, weights hash,
    preprocessing, layer, pooling...) plus ``feature_dim`` and a ``fit`` entry (library
    versions, creation time, training rows, training feature set name).
    """

    pipeline: object
    class_names: list
    head: str
    params: dict
    meta: dict

    @property
    def n_features(self) -> int:
        return int(self.pipeline.n_features_in_)

    def _check_X(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ParameterError(f"X must be 2-D (rows, features), got shape {X.shape}")
        if X.shape[1] != self.n_features:
            raise IncompatibleBundleError(
                f"features have {X.shape[1]} columns but the bundle was trained on {self.n_features} "
                f"(layer {self.meta.get('layer', '?')!r}); extract the layer the bundle was trained on"
            )
        bad = ~np.isfinite(X).all(axis=1)
        if bad.any():
            raise ParameterError(f"{int(bad.sum())} rows of X contain NaN or inf; re-extract with --dtype float32 or drop them")
        return X

    def predict(self, X) -> np.ndarray:
        """Predicted class names (array of str)."""
        idx = np.asarray(self.pipeline.predict(self._check_X(X))).astype(np.int64)
        return np.asarray(self.class_names, dtype=object)[idx].astype(str)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (n, len(class_names)) in ``class_names`` order."""
        X = self._check_X(X)
        proba, _ = global_scores(self.pipeline, X, len(self.class_names))
        if proba is None:
            raise ParameterError(
                f"head {self.head!r} was fitted without probabilities; refit with fit_bundle(..., probability=True)"
            )
        return proba

    def check_compatible(self, meta: dict) -> None:
        """Raise :class:`IncompatibleBundleError` naming every provenance key that differs.

        Compares ``COMPAT_KEYS`` present in both the bundle's and ``meta``.
        """
        if not isinstance(meta, dict):
            raise ParameterError(f"meta must be a dict of provenance, got {type(meta).__name__}")
        diffs = []
        for key in COMPAT_KEYS:
            if key in self.meta and key in meta and _canonical(self.meta[key]) != _canonical(meta[key]):
                a, b = _canonical(self.meta[key]), _canonical(meta[key])
                a = a if len(a) <= 60 else a[:57] + "..."
                b = b if len(b) <= 60 else b[:57] + "..."
                diffs.append(f"{key} {a} (bundle) vs {b} (features)")
        if diffs:
            raise IncompatibleBundleError(
                "the bundle was trained on features made differently: " + "; ".join(diffs)
                + "; extract the source with the bundle's settings or fit a new bundle"
            )

    def __repr__(self) -> str:
        return f"Bundle(head={self.head!r}, classes={self.class_names}, features={self.n_features}, layer={self.meta.get('layer')!r})"


def fit_bundle(
    feature_set: FeatureSet,
    head: str,
    *,
    pca=None,
    whiten: bool = WHITEN.default,
    search: bool = False,
    grid: dict | None = None,
    search_method: str = SEARCH.default,
    folds: int = 3,
    seed: int = SEED.default,
    jobs: int = 1,
    probability: bool = True,
    head_params: dict | None = None,
    search_metric: str = METRIC.default,
    n_iter: int = N_ITER.default,
) -> Bundle:
    """Fit ``head`` on every labelled row of ``feature_set`` and wrap it with its provenance.

    With ``search=True`` a ``GridSearchCV`` (``search_method="random"``: a ``RandomizedSearchCV``
    of ``n_iter`` candidates) scored by ``search_metric`` on ``folds`` stratified/grouped folds,
    ``jobs`` parallel fits, picks the parameters from ``resolve_grid(head, grid)`` and the best
    pipeline is refit on all rows; the search is the one nested CV runs. ``probability``
    (default True) calibrates heads without ``predict_proba`` so that ``Bundle.predict_proba``
    always works.
    """
    fs = _check_feature_set(feature_set)
    check_head(head)
    jobs = check_jobs(jobs)
    check_option(PROBABILITY, probability)
    search_metric = check_metric(search_metric)
    search_pca = is_search_pca(pca)
    if search_pca and not search:
        raise ParameterError("pca='search' needs search=True; pass a fixed pca such as 0.95")
    if not search_pca:
        check_pca(pca)
    if grid is not None and not search:
        raise ParameterError("a grid is only used by a search: pass search=True, or fix the parameters with head_params")
    estimator = build_estimator(fs, head, pca=PCA_GRID[0] if search_pca else pca, whiten=whiten, seed=seed,
                                probability=probability, head_params=head_params)
    params = {"pca": pca, "whiten": whiten, "probability": probability, "head_params": dict(head_params or {}), "search": bool(search)}
    if search:
        check_search(search_method)
        n_iter = check_option(N_ITER, n_iter)
        resolved = resolve_grid(head, grid, pca=pca, probability=probability)
        splits = make_splitter(fs.y, fs.groups, folds=folds, seed=seed, class_names=fs.class_names)
        if resolved:
            searcher = make_search(estimator, resolved, search=search_method, n_iter=n_iter, inner=splits, seed=seed,
                                   metric=search_metric, n_jobs=jobs)
            fit_search(searcher, fs.X, fs.y, where=f"the {fs.n_samples} training rows")
            pipeline = searcher.best_estimator_
            params.update(best_params=to_jsonable(searcher.best_params_), search_score=float(searcher.best_score_), grid=to_jsonable(resolved))
        else:
            pipeline = estimator.fit(fs.X, fs.y)
            params.update(best_params={}, grid={})
        params.update(search_method=search_method, search_metric=search_metric)
    else:
        if jobs != 1 and "n_jobs" in estimator.named_steps["clf"].get_params():
            estimator.set_params(clf__n_jobs=jobs)
        with threadpool_limits(limits=None if jobs == -1 else jobs):
            pipeline = estimator.fit(fs.X, fs.y)
    meta = dict(fs.meta)
    meta.setdefault("feature_dim", fs.n_features)
    meta["fit"] = {
        "versions": versions(*VERSION_DISTS),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "training_rows": fs.n_samples,
        "training_feature_set": fs.name,
        "class_counts": {c: int(n) for c, n in zip(fs.class_names, np.bincount(fs.y, minlength=fs.n_classes))},
    }
    return Bundle(pipeline=pipeline, class_names=list(fs.class_names), head=head, params=to_jsonable(params), meta=meta)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_bundle(bundle: Bundle, path, *, overwrite: bool = False) -> str:
    """Write ``bundle`` to ``path`` and its checksum to ``path + ".sha256"``.

    A ``.skops`` path writes the safe skops format (recommended); any other name writes a joblib
    pickle. Refuses to replace an existing file unless ``overwrite=True``. Returns the path.
    """
    if not isinstance(bundle, Bundle):
        raise ParameterError(f"expected a Bundle, got {type(bundle).__name__}; make one with fit_bundle")
    path = os.fspath(path)
    if not overwrite and (os.path.exists(path) or os.path.exists(path + ".sha256")):
        raise OutputExistsError(f"{path!r} exists; pass overwrite=True (--overwrite) or choose another path")
    with atomic_write(path, "wb") as fh:  # unique temporary name, fsynced, renamed over path
        if path.endswith(SKOPS_SUFFIX):
            _skops().dump(bundle, fh)
        else:
            import joblib

            joblib.dump(bundle, fh, compress=3)
        fh.flush()
        digest = _sha256(fh.name)  # the bytes written, before they replace path
    write_text(path + ".sha256", f"{digest}  {os.path.basename(path)}\n")
    return path


def load_bundle(path) -> Bundle:
    """Load a bundle written by :func:`save_bundle`.

    A ``.skops`` bundle is loaded as data: only the types featx writes (:func:`trusted_types`)
    are constructed, and a file holding any other type is refused before anything is built; a
    ``.sha256`` sidecar, when present, must match. A joblib bundle is a pickle: its sidecar is
    required and checked before anything is unpickled, and loading it warns
    (:class:`PickleBundleWarning`); only load such files from trusted sources.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise BundleIntegrityError(f"bundle {path!r} does not exist; check the path (bundles are written by featx fit)")
    skops_file = is_skops_file(path)
    if path.endswith(SKOPS_SUFFIX) and not skops_file:
        raise BundleIntegrityError(f"{path!r} is not a skops file (damaged, or another format renamed); re-create it with featx fit -o NAME.skops")
    _check_sidecar(path, required=not skops_file)
    bundle = _load_skops(path) if skops_file else _load_pickle(path)
    if not isinstance(bundle, Bundle):
        raise BundleIntegrityError(f"{path!r} holds a {type(bundle).__name__}, not a featx bundle; pass a file written by save_bundle")
    return bundle


def _check_sidecar(path: str, required: bool) -> None:
    sidecar = path + ".sha256"
    if not os.path.isfile(sidecar):
        if not required:
            return
        raise BundleIntegrityError(
            f"refusing to load {path!r}: checksum file {os.path.basename(sidecar)!r} is missing; {TRUST_NOTE}, "
            f"so re-save it with save_bundle (or write its sha256) only if you trust it"
        )
    with open(sidecar, encoding="utf-8") as fh:
        text = fh.read().split()
    expected = text[0].lower() if text else ""
    actual = _sha256(path)
    if expected != actual:
        raise BundleIntegrityError(
            f"refusing to load {path!r}: its sha256 {actual[:12]}... does not match {os.path.basename(sidecar)!r} "
            f"({expected[:12] or 'empty'}...); the file was changed or damaged and {TRUST_NOTE}"
        )


def _load_skops(path: str):
    sio = _skops()
    try:
        found = set(sio.get_untrusted_types(file=path))
    except Exception as exc:  # noqa: BLE001 - an unreadable schema is a damaged file
        raise _unreadable(path, exc) from None
    foreign = sorted(found - trusted_types())
    if foreign:
        shown = ", ".join(foreign[:4]) + (f" and {len(foreign) - 4} more" if len(foreign) > 4 else "")
        raise BundleIntegrityError(
            f"refusing to load {path!r}: it holds types featx bundles never contain ({shown}); if you trust "
            "its author, inspect it with skops.io.get_untrusted_types and load it yourself"
        )
    try:
        return sio.load(path, trusted=sorted(found))
    except Exception as exc:  # noqa: BLE001 - any construction failure is a damaged bundle
        raise _unreadable(path, exc) from None


def _load_pickle(path: str):
    import joblib

    warnings.warn(f"{os.path.basename(path)} is a joblib pickle bundle: loading it runs code its author chose; "
                  "only load bundles you trust, and prefer .skops files", PickleBundleWarning, stacklevel=3)
    try:
        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a damaged bundle
        raise _unreadable(path, exc) from None


def _unreadable(path: str, exc: BaseException) -> BundleIntegrityError:
    return BundleIntegrityError(f"cannot read bundle {path!r} ({type(exc).__name__}: {first_line(exc, None)}); re-create it with featx fit")

