"""Heads: plain scikit-learn Pipelines ``scale -> pca -> clf`` built by one factory."""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from featx.classify._errors import ParameterError, UnknownHeadError, check_option, unknown_message
from featx.classify.heads._builtin import default_xgb_device  # noqa: F401 (re-exported)
from featx.classify.heads._options import HEADS, PROBABILITY, WHITEN  # noqa: F401 (defined in the light module)
from featx.classify.heads._registry import head_spec


def check_head(name) -> str:
    """``name`` when it is a registered head; :class:`UnknownHeadError` (one line) otherwise."""
    return head_spec(name).name


def head_entry(head) -> tuple[str, object | None]:
    """``(label, estimator)`` of one entry of a list of heads.

    A head name gives ``(name, None)``; a scikit-learn classifier (an instance: an estimator or
    a ``Pipeline`` ending in one) gives ``(its class name, estimator)``, a ``(label, classifier)``
    pair ``(label, classifier)``.
    """
    if isinstance(head, str):
        return check_head(head), None
    from sklearn.base import is_classifier

    label, est = head if _is_pair(head) else (None, head)
    if isinstance(est, type) or not (hasattr(est, "fit") and hasattr(est, "get_params") and is_classifier(est)):
        raise UnknownHeadError(
            f"a head must be a name ({', '.join(HEADS)}), a scikit-learn classifier instance or a (label, classifier) "
            f"pair; got {head!r}"
        )
    if label is None:
        steps = getattr(est, "steps", None)
        label = f"{type(est).__name__}({', '.join(n for n, _ in steps)})" if steps else type(est).__name__
    if not label.strip():
        raise ParameterError(f"the label of head {est!r} is empty; pass a (label, classifier) pair with a name")
    return label, est


def _is_pair(head) -> bool:
    return isinstance(head, tuple) and len(head) == 2 and isinstance(head[0], str) and not isinstance(head[1], str)


def head_entries(heads, *, estimators: bool = True) -> list[tuple[str, object | None]]:
    """``[(label, estimator or None), ...]`` of ``heads``: a comma-separated string of names, one
    entry, or a list of entries (names; with ``estimators``, also classifiers and pairs)."""
    if isinstance(heads, str):
        heads = [h.strip() for h in heads.split(",") if h.strip()]
    elif _is_pair(heads) or hasattr(heads, "fit"):
        heads = [heads]
    heads = list(heads)
    if not heads:
        raise ParameterError("no heads given; pass e.g. heads=['logreg', 'svm']")
    entries = [head_entry(h) if estimators else (check_head(h), None) for h in heads]
    labels = [label for label, _ in entries]
    if len(set(labels)) != len(labels):
        raise ParameterError(f"heads {labels} repeat a name; list every head once (label your estimators with (label, estimator) pairs)")
    return entries


def pca_enabled(pca) -> bool:
    return not (pca is None or pca is False or (isinstance(pca, str) and pca.lower() in ("off", "none")) or (isinstance(pca, Real) and not isinstance(pca, bool) and pca == 0))


def check_pca(pca):
    """Validate ``pca``: None/0/"off" (no PCA), an int >= 1 (components) or a float in (0, 1).

    Returns None (off), an int or a float. A whole float >= 1 (``64.0`` from a CLI) is an int.
    """
    if not pca_enabled(pca):
        return None
    bad = ParameterError(
        f"pca must be an int >= 1 (components), a float in (0, 1) (variance fraction) or None/'off'; got {pca!r}"
        + ("; 'search' needs a nested search" if isinstance(pca, str) and pca.lower() == "search" else "")
    )
    if isinstance(pca, bool) or not isinstance(pca, Real):
        raise bad
    if isinstance(pca, Integral) or (pca >= 1 and float(pca).is_integer()):
        if pca < 1:
            raise bad
        return int(pca)
    if not 0 < pca < 1:
        raise bad
    return float(pca)


def _classifier(name: str, *, random_state, n_jobs, probability: bool, params: dict):
    spec = head_spec(name)
    kw = dict(spec.defaults)
    if spec.seeded:
        kw["random_state"] = random_state
    if spec.parallel:
        kw["n_jobs"] = n_jobs
    clf = spec.factory(**{**kw, **params})
    if not (hasattr(clf, "fit") and hasattr(clf, "get_params")):
        raise ParameterError(f"the factory of head {name!r} returned {clf!r}, not a scikit-learn classifier; "
                             f"register a factory that returns an unfitted estimator")
    return _calibrated(clf) if probability and spec.calibrate else clf


def _calibrated(clf):
    # sigmoid (Platt) calibration on 3 internal folds, then one model refit on all rows
    return CalibratedClassifierCV(clf, method="sigmoid", cv=3, ensemble=False)


def make_head(
    name: str,
    *,
    pca=None,
    whiten: bool = False,
    random_state: int = 0,
    n_jobs: int = 1,
    probability: bool = False,
    **params,
) -> Pipeline:
    """Build the head ``name`` as ``Pipeline([("scale", StandardScaler()), ("pca", ...), ("clf", ...)])``.

    Parameters
    ----------
    name : one of ``HEADS`` (the registered heads, see :func:`featx.classify.register_head`)
        ``logreg`` (multinomial lbfgs), ``svm`` (LinearSVC), ``svm_rbf`` (RBF SVC), ``rf``,
        ``xgb`` (hist; ``device`` from ``FEATX_XGB_DEVICE``, default cpu), ``knn``, ``ridge``,
        ``centroid`` (:class:`NearestCentroidL2`), or a head you registered.
    pca : None, 0, "off", int >= 1 or float in (0, 1)
        PCA components (int) or kept variance fraction (float); off gives a ``'passthrough'`` step.
    whiten : bool
        PCA whitening (ignored without PCA).
    random_state, n_jobs
        Passed to the PCA and classifier where they apply.
    probability : bool
        Give ``predict_proba`` to heads that lack it: ``svm``,
        ``svm_rbf`` and ``ridge`` are wrapped in a sigmoid ``CalibratedClassifierCV(cv=3,
        ensemble=False)`` (their grid keys become ``clf__estimator__...``; ``resolve_grid``
        translates ``clf__C``). Other heads always have probabilities.
    **params
        Classifier parameters (``C=0.1``, ``max_depth=6``...) without the ``clf__`` prefix.
    """
    check_head(name)
    n_components = check_pca(pca)
    check_option(WHITEN, whiten)
    check_option(PROBABILITY, probability)
    if not (isinstance(n_jobs, Integral) and (n_jobs >= 1 or n_jobs == -1)):
        raise ParameterError(f"n_jobs must be an int >= 1 or -1 (all cores); got {n_jobs!r}")
    if n_components is None:
        pca_step = "passthrough"
    else:
        pca_step = PCA(n_components=n_components, whiten=whiten, random_state=random_state)
    try:
        clf = _classifier(name, random_state=random_state, n_jobs=n_jobs, probability=probability, params=params)
    except TypeError as exc:  # unknown keyword of the classifier
        bad = next((k for k in params if f"'{k}'" in str(exc)), None)
        allowed = sorted(_classifier(name, random_state=random_state, n_jobs=n_jobs, probability=False,
                                     params={}).get_params(deep=False))
        raise ParameterError(unknown_message(f"parameter of head {name!r}:", bad or sorted(params), allowed)) from None
    return Pipeline([("scale", StandardScaler()), ("pca", pca_step), ("clf", clf)])
