"""Dataset audits on cached features: exact and near duplicates (``_exact``, ``_near``), label
issues (``_labels``), image-quality issues (``_quality``), the 2-D map (``_map``), the leak statistics (``_stats``), their settings
(``_config``), the combined audit (``_audit``), the registry of audit checks it runs (``_registry``) and the
built-in checks registered there (``_builtin``: the computed results as ``featx audit --json`` findings).

May import featx.common, featx.classify's top-level modules, featx.classify.heads and
featx.classify.cv; never featx.classify.transfer.
"""

from featx.common.lazy import lazy_exports

# public names by module (in this sub-package, or absolute), imported on first use
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _audit: Audit audit cluster_rows leak_groups
    _config: audit_configuration
    _exact: DuplicatePlan exact_clusters merge_groups plan_duplicates straddling unique_keys
    _index: NeighbourIndex
    _labels: LabelIssues find_label_issues mean_oof_proba prune_and_rescore
    _manifest: clean_rows
    _map: map_2d
    _near: NearCluster NearDuplicateRule near_duplicates
    _quality: QualityThresholds image_issues
    _registry: AuditContext BUILTIN_AUDIT_KEYS audit_check_spec list_audit_checks register_audit_check unregister_audit_check
    _stats: calibration knn_outliers
""")
