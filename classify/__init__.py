"""featx.classify: classical heads on cached features, cross-validated the careful way.

Works on numpy arrays plus a provenance dict (never imports featx.extract or torch):

- :class:`FeatureSet` - features ``X`` (n, d) float32, labels, class names, groups, row keys, meta.
- :func:`make_head` - ``scale -> pca -> clf`` Pipelines for ``HEADS``; :data:`DEFAULT_GRIDS`
  and :func:`resolve_grid` for searches.
- :func:`make_splitter` - seeded stratified (grouped, repeated) folds, the same for every head.
- :func:`cross_validate_head` / :func:`compare` / :func:`ensemble_cv` - plain or nested CV,
  heads x feature sets on identical folds, soft voting and stacking across feature sets;
  :func:`prepare_head_cv` + :func:`run_head_jobs` run many configurations in one submission.
  ``cluster=`` (``'local:N'``, a scheduler address or a ``distributed.Client``) runs the folds
  and grid points on Dask with the same results (:class:`ClusterRun`: where and how much).
- :func:`fit_bundle` / :func:`save_bundle` / :func:`load_bundle` - fitted heads with provenance;
  :func:`write_predictions` writes their predictions as CSV.
- :func:`learning_curve` / :func:`explained_variance` - score vs training size on the CV's
  folds, and the PCA spectrum of a feature set.
- :func:`confusion_png` / :func:`learning_curve_png` / :func:`variance_png` /
  :func:`reliability_png` / :func:`map_png` - those analyses drawn as PNG bytes (matplotlib Agg,
  imported only when drawing; :func:`agg_figure` and :func:`png_bytes` for plots of your own).
- :func:`logme` / :func:`rank_logme` - LogME transferability scores (no CV) of feature sets,
  beside a cross-validated ranking with rank correlations (:meth:`LogMERanking.versus`).
- :func:`audit` - data checks on one feature set: exact copies (:func:`plan_duplicates`: unique
  keys, copies as CV groups, conflicting labels dropped or kept), near-duplicates
  (:func:`near_duplicates`: feature cosine + mirror-invariant perceptual hashes), clusters that
  straddle folds, confident-learning label issues (:func:`find_label_issues`), k-NN outliers,
  :func:`calibration` (ECE, reliability bins) and :func:`map_2d` (PCA then t-SNE);
  :func:`audit_configuration` - the same checks of one cross-validated configuration.
- The settings shared with the CLI and the pipeline spec, as :class:`featx.common.Option`:
  ``FOLDS``, ``INNER_FOLDS``, ``REPEATS``, ``SEED``, ``NESTED``, ``SEARCH``, ``N_ITER``,
  ``HEAD_LIST``, ``PCA``, ``FRACTIONS``, ``WHITEN``, ``PROBABILITY``, ``JOBS``, ``METRIC``, ``SEARCH_METRIC`` (``CV_OPTIONS``: the
  cross-validation scheme's seven).

Save bundles as ``NAME.skops``: skops.io stores them as data, and ``load_bundle`` builds only the
types featx writes (:func:`trusted_types`), refusing any other file before constructing anything.
``NAME.joblib`` bundles are pickles: only load them from trusted sources; ``load_bundle`` checks
their sha256 sidecar before unpickling (catches damaged or swapped files, not malicious ones) and
warns with :class:`PickleBundleWarning`.
"""

from featx.common.lazy import lazy_names
from featx.classify._errors import (  # light modules: no scikit-learn
    AlignmentError,
    BundleIntegrityError,
    ClassifyError,
    ClassifyWarning,
    FeatureSetError,
    GridError,
    IncompatibleBundleError,
    MissingDependencyError,
    OutputExistsError,
    ParameterError,
    SplitError,
    UnknownHeadError,
)
from featx.classify.heads._options import (  # light modules: no scikit-learn
    CONFLICTS,
    CV_OPTIONS,
    DEDUPE,
    FOLDS,
    FRACTIONS,
    FractionsOption,  # noqa: F401 (an old top-level name, not in __all__)
    HEADS,
    HEAD_LIST,
    INNER_FOLDS,
    JOBS,
    METRIC,
    METRICS,
    NESTED,
    N_ITER,
    PCA,
    PCAOption,  # noqa: F401 (an old top-level name, not in __all__)
    PROBABILITY,
    REPEATS,
    SEARCH,
    SEARCH_METRIC,
    SEED,
    WHITEN,
)
from featx.classify.transfer._options import DATA_EFFICIENCY, HOLDOUT_FOLDS  # noqa: F401 (light; old top-level names)
from featx.classify.heads._registry import HeadSpec, head_spec, list_heads, register_head, unregister_head  # light

# imported on first use (PEP 562), so reading the settings (the CLI's start-up, the pipeline spec,
# `featx --help`) does not import scikit-learn: public name -> private module. A new public name
# goes here (or in the light imports above when its module imports neither numpy nor sklearn).
_LAZY = {
    "COMPAT_KEYS": "_bundle", "Bundle": "_bundle", "PickleBundleWarning": "_bundle", "fit_bundle": "_bundle",
    "is_skops_file": "_bundle", "load_bundle": "_bundle", "save_bundle": "_bundle", "trusted_types": "_bundle",
    "Audit": "audits._audit", "audit": "audits._audit", "AuditContext": "audits._registry",
    "register_audit_check": "audits._registry", "unregister_audit_check": "audits._registry",
    "list_audit_checks": "audits._registry", "cluster_rows": "audits._audit",
    "leak_groups": "audits._audit", "audit_configuration": "audits._config", "LabelIssues": "audits._labels",
    "find_label_issues": "audits._labels", "mean_oof_proba": "audits._labels", "prune_and_rescore": "audits._labels",
    "map_2d": "audits._map", "image_issues": "audits._quality", "QualityThresholds": "audits._quality", "NearDuplicateRule": "audits._near", "NearCluster": "audits._near", "clean_rows": "audits._manifest", "NeighbourIndex": "audits._index",
    "near_duplicates": "audits._near", "calibration": "audits._stats", "knn_outliers": "audits._stats",
    "DuplicatePlan": "audits._exact", "exact_clusters": "audits._exact", "merge_groups": "audits._exact",
    "plan_duplicates": "audits._exact", "straddling": "audits._exact", "unique_keys": "audits._exact",
    "Comparison": "cv._compare", "compare": "cv._compare", "explained_variance": "_curves", "learning_curve": "_curves",
    "stratified_subset": "_curves", "HEAD_COLOURS": "_display", "agg_figure": "_display", "confusion_png": "_display",
    "learning_curve_png": "_display", "map_png": "_display", "png_bytes": "_display", "reliability_png": "_display",
    "variance_png": "_display", "features_digest": "_digests", "splits_digest": "_digests",
    "cross_validate_head": "cv._cv", "prepare_head_cv": "cv._cv", "run_head_jobs": "cv._cv", "ClusterRun": "cv._cluster", "ensemble_cv": "heads._ensemble", "ColumnSlice": "heads._estimators",
    "NearestCentroidL2": "heads._estimators", "ReencodedXGBClassifier": "heads._estimators", "AlignedFeatureSets": "_features",
    "FeatureSet": "_features", "align_feature_sets": "_features", "DEFAULT_GRIDS": "heads._grids", "PCA_GRID": "heads._grids",
    "grid_values": "heads._grids", "most_common_params": "heads._grids", "params_text": "heads._grids", "parse_grid_text": "heads._grids",
    "resolve_grid": "heads._grids", "check_head_tables": "heads._head_tables", "make_head": "heads._heads", "METRIC_LABELS": "_metrics",
    "MetricScorer": "_metrics", "write_predictions": "cv._predictions", "CVResult": "cv._result",
    "make_splitter": "cv._splits",
    "Holdout": "transfer._holdout", "efficiency_subsets": "transfer._holdout", "holdout_splits": "transfer._holdout",
    "bootstrap_scores": "transfer._bootstrap", "heldout_record": "transfer._bootstrap", "describe_transfer": "transfer._verdict", "negative_transfer": "transfer._verdict",
    "transfer_verdict": "transfer._verdict", "TRANSFER_MATRIX": "transfer._verdict",
    "efficiency_png": "transfer._plots", "convergence_png": "transfer._plots",
    "LogMERanking": "_logme", "best_cv_scores": "_logme", "logme": "_logme", "rank_logme": "_logme",
}

# the curated surface: what a user script calls (README "The Python API"). The other names of _LAZY
# still resolve here for old scripts, but their home is the sub-package that exports them:
# featx.classify.audits, .cv, .heads, .transfer (pipelines imports them from there).
__all__ = [
    "FeatureSet", "AlignedFeatureSets", "align_feature_sets", "make_head", "DEFAULT_GRIDS", "resolve_grid",
    "register_head", "unregister_head", "head_spec", "list_heads", "HeadSpec", "make_splitter", "cross_validate_head",
    "compare", "Comparison", "CVResult", "ensemble_cv", "write_predictions", "fit_bundle", "save_bundle",
    "load_bundle", "Bundle", "PickleBundleWarning", "is_skops_file", "trusted_types", "learning_curve",
    "explained_variance", "logme", "rank_logme", "LogMERanking", "best_cv_scores", "audit", "Audit", "audit_configuration",
    "register_audit_check", "unregister_audit_check", "list_audit_checks", "AuditContext", "confusion_png",
    "learning_curve_png", "variance_png", "reliability_png", "map_png", "agg_figure", "png_bytes", "ClassifyError",
    "ClassifyWarning", "AlignmentError", "BundleIntegrityError", "FeatureSetError", "GridError", "IncompatibleBundleError",
    "MissingDependencyError", "OutputExistsError", "ParameterError", "SplitError", "UnknownHeadError",
    "CV_OPTIONS", "FOLDS", "INNER_FOLDS", "REPEATS", "SEED", "NESTED", "SEARCH", "N_ITER", "HEADS", "HEAD_LIST",
    "PCA", "FRACTIONS", "WHITEN", "PROBABILITY", "JOBS", "METRIC", "METRICS", "SEARCH_METRIC", "CONFLICTS",
    "DEDUPE",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
