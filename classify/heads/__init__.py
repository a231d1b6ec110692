"""Classifier heads: their settings and names (``_options``), the factory (``_heads``), default
grids (``_grids``), the head tables (``_head_tables``), featx's own estimators (``_estimators``)
and ensembles (``_ensemble``).

May import featx.common and featx.classify's top-level modules; never featx.classify.cv,
featx.classify.audits or featx.classify.transfer.
"""

from featx.common.lazy import lazy_names

# public name -> module (in this sub-package, or absolute), imported on first use
_LAZY = {
    "COMPAT_KEYS": "featx.classify._bundle",
    "CONFLICTS": "_options",
    "CV_OPTIONS": "_options",
    "ColumnSlice": "_estimators",
    "DEDUPE": "_options",
    "DEFAULT_GRIDS": "_grids",
    "FOLDS": "_options",
    "FRACTIONS": "_options",
    "FractionsOption": "_options",
    "HEADS": "_options",
    "HEAD_COLOURS": "featx.classify._display",
    "HEAD_LIST": "_options",
    "HeadSpec": "_registry",
    "INNER_FOLDS": "_options",
    "JOBS": "_options",
    "METRIC": "_options",
    "METRICS": "_options",
    "NESTED": "_options",
    "N_ITER": "_options",
    "NearestCentroidL2": "_estimators",
    "PCA": "_options",
    "PCAOption": "_options",
    "PCA_GRID": "_grids",
    "PROBABILITY": "_options",
    "REPEATS": "_options",
    "ReencodedXGBClassifier": "_estimators",
    "SEARCH": "_options",
    "SEARCH_METRIC": "_options",
    "SEED": "_options",
    "WHITEN": "_options",
    "check_head_tables": "_head_tables",
    "ensemble_cv": "_ensemble",
    "grid_values": "_grids",
    "head_spec": "_registry",
    "list_heads": "_registry",
    "make_head": "_heads",
    "most_common_params": "_grids",
    "params_text": "_grids",
    "parse_grid_text": "_grids",
    "register_head": "_registry",
    "resolve_grid": "_grids",
    "unregister_head": "_registry",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
