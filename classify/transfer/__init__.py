"""The transfer study's statistics: held-out splits (``_holdout``), bootstrap intervals
(``_bootstrap``), paired comparisons (``_paired``), measured domain similarity (``_similarity``), the verdict (``_verdict``), its plots (``_plots``) and settings (``_options``).

May import featx.common, featx.classify's top-level modules, featx.classify.heads and
featx.classify.cv.
"""

from featx.common.lazy import lazy_exports

# public names by module (in this sub-package), imported on first use
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _bootstrap: bootstrap_scores heldout_record
    _holdout: Holdout efficiency_subsets holdout_splits
    _options: DATA_EFFICIENCY HOLDOUT_FOLDS
    _paired: mcnemar_exact paired_comparisons paired_difference paired_verdict
    _plots: convergence_png efficiency_png
    _similarity: DEFAULT_METHOD SIMILARITY_METHODS domain_similarity similarity_candidates similarity_verdict
    _similarity: similarity_words
    _verdict: TRANSFER_MATRIX describe_transfer negative_transfer transfer_verdict
""")
