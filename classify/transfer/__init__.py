"""The transfer study's statistics: held-out splits (``_holdout``), bootstrap intervals
(``_bootstrap``), paired comparisons (``_paired``), measured domain similarity (``_similarity``), the verdict (``_verdict``), its plots (``_plots``) and settings (``_options``).

May import featx.common, featx.classify's top-level modules, featx.classify.heads and
featx.classify.cv.
"""

from featx.common.lazy import lazy_names

_LAZY = {name: "_paired" for name in ("mcnemar_exact", "paired_comparisons", "paired_difference", "paired_verdict")}
_LAZY.update({name: "_similarity" for name in ("DEFAULT_METHOD", "SIMILARITY_METHODS", "domain_similarity", "similarity_candidates",
                                               "similarity_verdict", "similarity_words")})

_LAZY.update({'DATA_EFFICIENCY': '_options', 'HOLDOUT_FOLDS': '_options', 'Holdout': '_holdout', 'TRANSFER_MATRIX': '_verdict', 'bootstrap_scores': '_bootstrap', 'convergence_png': '_plots', 'describe_transfer': '_verdict', 'efficiency_png': '_plots', 'efficiency_subsets': '_holdout', 'heldout_record': '_bootstrap', 'holdout_splits': '_holdout', 'negative_transfer': '_verdict', 'transfer_verdict': '_verdict'})

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
