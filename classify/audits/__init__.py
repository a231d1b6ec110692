"""Dataset audits on cached features: exact and near duplicates (``_exact``, ``_near``), label
issues (``_labels``), image-quality issues (``_quality``), the 2-D map (``_map``), the leak statistics (``_stats``), their settings
(``_config``), the combined audit (``_audit``) and the registry of user audit checks it also runs (``_registry``).

May import featx.common, featx.classify's top-level modules, featx.classify.heads and
featx.classify.cv; never featx.classify.transfer.
"""
