"""Cross-validation: splitters (``_splits``), the CV loop (``_cv``), its frozen result
(``_result``), comparisons across heads and caches (``_compare``), CV on a Dask cluster
(``_cluster``) and out-of-fold predictions (``_predictions``).

May import featx.common, featx.classify's top-level modules and featx.classify.heads.
"""

from featx.common.lazy import lazy_names

# public name -> module (in this sub-package, or absolute), imported on first use
_LAZY = {
    "CVResult": "_result",
    "ClusterRun": "_cluster",
    "Comparison": "_compare",
    "METRIC_LABELS": "featx.classify._metrics",
    "MetricScorer": "featx.classify._metrics",
    "compare": "_compare",
    "cross_validate_head": "_cv",
    "features_digest": "featx.classify._digests",
    "make_splitter": "_splits",
    "prepare_head_cv": "_cv",
    "run_head_jobs": "_cv",
    "splits_digest": "featx.classify._digests",
    "stratified_subset": "featx.classify._curves",
    "write_predictions": "_predictions",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
