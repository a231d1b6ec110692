"""Cross-validation: splitters (``_splits``), the CV loop (``_cv``), its frozen result
(``_result``), comparisons across heads and caches (``_compare``), CV on a Dask cluster
(``_cluster``) and out-of-fold predictions (``_predictions``).

May import featx.common, featx.classify's top-level modules and featx.classify.heads.
"""

from featx.common.lazy import lazy_exports

# public names by module (in this sub-package, or absolute), imported on first use
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _cluster: ClusterRun
    _compare: Comparison compare
    _cv: cross_validate_head prepare_head_cv run_head_jobs
    _predictions: write_predictions
    _result: CVResult
    _splits: make_splitter
    featx.classify._curves: stratified_subset
    featx.classify._digests: features_digest splits_digest
    featx.classify._metrics: METRIC_LABELS MetricScorer
""")
