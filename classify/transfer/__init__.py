"""The transfer study's statistics: held-out splits (``_holdout``), bootstrap intervals
(``_bootstrap``), paired comparisons (``_paired``), the verdict (``_verdict``), its plots (``_plots``) and settings (``_options``).

May import featx.common, featx.classify's top-level modules, featx.classify.heads and
featx.classify.cv.
"""

from featx.common.lazy import lazy_names

_LAZY = {name: "_paired" for name in ("mcnemar_exact", "paired_comparisons", "paired_difference", "paired_verdict")}

__all__ = ["mcnemar_exact", "paired_comparisons", "paired_difference", "paired_verdict"]
__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
