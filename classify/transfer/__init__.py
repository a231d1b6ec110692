"""The transfer study's statistics: held-out splits (``_holdout``), bootstrap intervals
(``_bootstrap``), the verdict (``_verdict``), its plots (``_plots``) and settings (``_options``).

May import featx.common, featx.classify's top-level modules, featx.classify.heads and
featx.classify.cv.
"""
