"""Cross-validation: splitters (``_splits``), the CV loop (``_cv``), its frozen result
(``_result``), comparisons across heads and caches (``_compare``), CV on a Dask cluster
(``_cluster``) and out-of-fold predictions (``_predictions``).

May import featx.common, featx.classify's top-level modules and featx.classify.heads.
"""
