"""Default hyperparameter grids (plain data) and their validation against a head's pipeline.

Keys are Pipeline parameter names (``clf__C``, ``pca__n_components``). The grids are small on
purpose: nested 5x3 CV of logreg, svm, rf and xgb with ``pca=0.95`` on 400 x 1280 features costs
about 55 CPU-seconds (logreg 4, svm 7, rf 29, xgb 16), i.e. roughly 30 s with ``jobs=2`` on an idle
2-core machine (122 s measured on a heavily shared one); ``pca="search"`` doubles it
(``benchmarks/bench_nested_cv.py``).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping

import numpy as np

from featx.common.options import got

from featx.classify._errors import GridError, check_option, unknown_message
from featx.classify.heads._heads import check_head, check_pca, make_head, pca_enabled
from featx.classify.heads._options import SEARCH  # noqa: F401 (defined in the light module)

from featx.classify.heads._builtin import PCA_GRID  # noqa: F401 (values of pca__n_components searched by pca="search")
from featx.classify.heads._registry import DEFAULT_GRIDS  # noqa: F401 (each registered head's default grid, read live)


def is_search_pca(pca) -> bool:
    return isinstance(pca, str) and pca.lower() == "search"


def grid_size(grid: Mapping) -> int | None:
    """Number of candidates of a grid of lists (None when it holds distributions)."""
    size = 1
    for values in grid.values():
        if not isinstance(values, (list, tuple, np.ndarray)):
            return None
        size *= len(values)
    return size


def _searchable_params(pipeline) -> list[str]:
    params = pipeline.get_params(deep=True)
    keys = [k for k in params if k.startswith(("clf__", "pca__")) and k.count("__") == 1]
    clf = pipeline.named_steps["clf"]
    if hasattr(clf, "estimator") and not isinstance(clf, type):  # calibrated wrapper
        keys += [k for k in params if k.startswith("clf__estimator__") and k.count("__") == 2]
    return keys


def _adapt_key(key: str, pipeline) -> str:
    """Route ``clf__X`` to ``clf__estimator__X`` when the classifier is a calibration wrapper."""
    params = pipeline.get_params(deep=True)
    if key in params or not key.startswith("clf__"):
        return key
    inner = "clf__estimator__" + key[len("clf__"):]
    return inner if inner in params else key


def resolve_grid(head: str, overrides: Mapping | None = None, *, pca="search", probability: bool = False) -> dict:
    """The search grid for ``head``: ``DEFAULT_GRIDS[head]`` updated with ``overrides``.

    ``overrides`` maps Pipeline parameter names to value lists (a scalar is a one-value list, a
    scipy distribution works with random search); an override replaces the default list of that
    key. Keys are checked against the head's ``get_params()``.

    ``pca`` says how PCA is set up: ``"search"`` keeps the default ``pca__n_components`` list;
    a fixed value (``0.95``, ``64``) drops it so your choice stays fixed (override it to search);
    ``None``/``"off"`` drops it and refuses ``pca__`` overrides.
    """
    check_head(head)
    search_pca = is_search_pca(pca)
    if not search_pca:
        check_pca(pca)
    on = search_pca or pca_enabled(pca)
    pipeline = make_head(head, pca=0.95 if on else None, probability=probability)
    grid = {k: list(v) for k, v in DEFAULT_GRIDS[head].items()}
    if not search_pca:
        grid = {k: v for k, v in grid.items() if not k.startswith("pca__")}
    grid = {_adapt_key(k, pipeline): v for k, v in grid.items()}
    if overrides is None:
        return grid
    if not isinstance(overrides, Mapping):
        raise GridError(f"grid overrides for head {head!r} must be a dict of parameter -> values, got {type(overrides).__name__}")
    allowed = _searchable_params(pipeline)
    all_params = pipeline.get_params(deep=True)
    for key, values in overrides.items():
        if not isinstance(key, str):
            raise GridError(f"grid keys must be strings like 'clf__C', got {key!r}")
        if key.startswith("pca__") and not on:
            raise GridError(
                f"grid key {key!r} needs PCA in the pipeline of head {head!r}; pass pca=0.95 (or pca='search') or drop the key"
            )
        real = _adapt_key(key, pipeline)
        if real not in all_params or real in ("scale", "pca", "clf"):
            prefixed = _adapt_key(f"clf__{key}", pipeline)
            if "__" not in key and prefixed in all_params:
                raise GridError(
                    f"unknown grid key for head {head!r}: {key!r}; did you mean {'clf__' + key!r}? "
                    f"grid keys are Pipeline parameter names (clf__..., pca__...)"
                )
            raise GridError(unknown_message(f"grid key for head {head!r}:", key, allowed))
        if hasattr(values, "rvs"):
            grid[real] = values
            continue
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        values = list(values)
        if not values:
            raise GridError(f"grid key {key!r} of head {head!r} has an empty value list; give at least one value")
        grid[real] = values
    return grid


def grid_values(values) -> tuple:
    """The values of one grid override as a spec or the CLI writes them: one scalar or a list of
    numbers, strings and booleans, where the string ``"none"`` stands for ``None``. Raises
    :class:`GridError` for an empty list or a value that is a list or a table."""
    vals = list(values) if isinstance(values, (list, tuple)) else [values]
    bad = [v for v in vals if isinstance(v, (Mapping, list, tuple))]
    if bad:
        raise GridError(f"values must be numbers, strings or booleans, {got(bad[0])}")
    if not vals:
        raise GridError("empty value list; give at least one value")
    return tuple(None if isinstance(v, str) and v.lower() == "none" else v for v in vals)


def parse_grid_text(items, *, what: str = "grid override") -> dict:
    """``{head: {param: [values]}}`` from ``HEAD:PARAM=V1,V2`` texts (the CLI's ``--grid``): each
    value is read as an int, a float, ``none``/``true``/``false`` or else kept as a string. Raises
    :class:`GridError` (naming ``what``) for a text of another shape."""
    grids: dict[str, dict] = {}
    for item in items:
        head, sep, rest = item.partition(":")
        key, eq, values = rest.partition("=")
        if not sep or not eq or not head or not key or not values:
            raise GridError(f"{what} {item!r} is not HEAD:PARAM=V1,V2 (e.g. logreg:clf__C=0.1,1,10)")
        grids.setdefault(head, {})[key] = [_scalar(v) for v in values.split(",")]
    return grids


def _scalar(text: str):
    text = text.strip()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"none": None, "true": True, "false": False}.get(text.lower(), text)


def most_common_params(best_params: list) -> tuple[dict, int]:
    """The hyperparameters an inner search chose most often over the outer folds (a CVResult's
    ``best_params``), and in how many folds; ``({}, 0)`` without a search."""
    if not best_params:
        return {}, 0
    counts = collections.Counter(json.dumps(p, sort_keys=True) for p in best_params)
    text, n = counts.most_common(1)[0]
    return json.loads(text), n


def params_text(params: Mapping | None) -> str:
    """Chosen hyperparameters in short: ``clf__C`` -> ``C``, ``pca__n_components`` ->
    ``pca.n_components`` (``"C=0.1, pca.n_components=0.9"``; ``""`` for none)."""
    return ", ".join(f"{'pca.' if k.startswith('pca__') else ''}{k.split('__')[-1]}={v}" for k, v in (params or {}).items())


def check_search(search) -> str:
    return check_option(SEARCH, search)
