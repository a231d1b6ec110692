"""Dataset audits on cached features: exact and near duplicates (``_exact``, ``_near``), label
issues (``_labels``), image-quality issues (``_quality``), the 2-D map (``_map``), the leak statistics (``_stats``), their settings
(``_config``) and the combined audit (``_audit``).

May import featx.common, featx.classify's top-level modules, featx.classify.heads and
featx.classify.cv; never featx.classify.transfer.
"""
