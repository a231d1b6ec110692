"""Classifier heads: their settings and names (``_options``), the factory (``_heads``), default
grids (``_grids``), the head tables (``_head_tables``), featx's own estimators (``_estimators``)
and ensembles (``_ensemble``).

May import featx.common and featx.classify's top-level modules; never featx.classify.cv,
featx.classify.audits or featx.classify.transfer.
"""

from featx.common.lazy import lazy_exports

# public names by module (in this sub-package, or absolute), imported on first use
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _ensemble: ensemble_cv
    _estimators: ColumnSlice NearestCentroidL2 ReencodedXGBClassifier
    _grids: DEFAULT_GRIDS PCA_GRID grid_values most_common_params params_text parse_grid_text resolve_grid
    _head_tables: check_head_tables
    _heads: make_head
    _options: CONFLICTS CV_OPTIONS DEDUPE FOLDS FRACTIONS FractionsOption HEADS HEAD_LIST INNER_FOLDS JOBS METRIC
    _options: METRICS NESTED N_ITER PCA PCAOption PROBABILITY REPEATS SEARCH SEARCH_METRIC SEED WHITEN
    _registry: HeadSpec head_spec list_heads register_head unregister_head
    featx.classify._bundle: COMPAT_KEYS
    featx.classify._display: HEAD_COLOURS
""")
