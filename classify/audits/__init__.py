"""Dataset audits on cached features: exact and near duplicates (``_exact``, ``_near``), label
issues (``_labels``), image-quality issues (``_quality``), the 2-D map (``_map``), the leak statistics (``_stats``), their settings
(``_config``), the combined audit (``_audit``) and the registry of user audit checks it also runs (``_registry``).

May import featx.common, featx.classify's top-level modules, featx.classify.heads and
featx.classify.cv; never featx.classify.transfer.
"""

from featx.common.lazy import lazy_names

# public name -> module (in this sub-package, or absolute), imported on first use
_LAZY = {
    "Audit": "_audit",
    "AuditContext": "_registry",
    "DuplicatePlan": "_exact",
    "LabelIssues": "_labels",
    "NearCluster": "_near",
    "NearDuplicateRule": "_near",
    "NeighbourIndex": "_index",
    "QualityThresholds": "_quality",
    "audit": "_audit",
    "audit_configuration": "_config",
    "calibration": "_stats",
    "clean_rows": "_manifest",
    "cluster_rows": "_audit",
    "exact_clusters": "_exact",
    "find_label_issues": "_labels",
    "findings_json": "_audit",
    "image_issues": "_quality",
    "knn_outliers": "_stats",
    "leak_groups": "_audit",
    "list_audit_checks": "_registry",
    "map_2d": "_map",
    "mean_oof_proba": "_labels",
    "merge_groups": "_exact",
    "near_duplicates": "_near",
    "plan_duplicates": "_exact",
    "prune_and_rescore": "_labels",
    "register_audit_check": "_registry",
    "straddling": "_exact",
    "unique_keys": "_exact",
    "unregister_audit_check": "_registry",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
