"""featx.classify: classical heads on cached features, cross-validated the careful way.

Works on numpy arrays plus a provenance dict (never imports featx.extract or torch):

- :class:`FeatureSet` - features ``X`` (n, d) float32, labels, class names, groups, row keys, meta.
- :func:`make_head` - ``scale -> pca -> clf`` Pipelines for ``HEADS``; :data:`DEFAULT_GRIDS`
  and :func:`resolve_grid` for searches.
- :func:`make_splitter` - seeded stratified (grouped, repeated) folds, the same for every head.
- :func:`cross_validate_head` / :func:`compare` / :func:`ensemble_cv` - plain or nested CV,
  heads x feature sets on identical folds, soft voting and stacking across feature sets.
- :func:`fit_bundle` / :func:`save_bundle` / :func:`load_bundle` - fitted heads with provenance;
  :func:`write_predictions` writes their predictions as CSV.
- :func:`learning_curve` / :func:`explained_variance` - score vs training size on the CV's
  folds, and the PCA spectrum of a feature set.
- :func:`confusion_png` / :func:`learning_curve_png` / :func:`variance_png` /
  :func:`reliability_png` / :func:`map_png` - those analyses drawn as PNG bytes (matplotlib Agg,
  imported only when drawing; :func:`agg_figure` and :func:`png_bytes` for plots of your own).
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

from ._bundle import (
    COMPAT_KEYS,
    Bundle,
    PickleBundleWarning,
    fit_bundle,
    is_skops_file,
    load_bundle,
    save_bundle,
    trusted_types,
)
from ._audit import DEDUPE, Audit, audit, cluster_rows, findings_json, leak_groups
from ._audit_config import audit_configuration
from ._audit_labels import LabelIssues, find_label_issues
from ._audit_map import map_2d
from ._audit_near import NearDuplicateRule, near_duplicates
from ._audit_stats import calibration, knn_outliers
from ._audit_exact import CONFLICTS, DuplicatePlan, exact_clusters, merge_groups, plan_duplicates, straddling, unique_keys
from ._compare import Comparison, compare
from ._curves import explained_variance, learning_curve, stratified_subset
from ._display import (
    HEAD_COLOURS,
    agg_figure,
    confusion_png,
    learning_curve_png,
    map_png,
    png_bytes,
    reliability_png,
    variance_png,
)
from ._digests import features_digest, splits_digest
from ._cv import CV_OPTIONS, INNER_FOLDS, JOBS, N_ITER, NESTED, cross_validate_head
from ._ensemble import ensemble_cv
from ._errors import (
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
from ._estimators import ColumnSlice, NearestCentroidL2, ReencodedXGBClassifier
from ._features import AlignedFeatureSets, FeatureSet, align_feature_sets
from ._grids import (DEFAULT_GRIDS, PCA_GRID, SEARCH, grid_values, most_common_params, params_text, parse_grid_text,
                     resolve_grid)
from ._head_tables import check_head_tables
from ._heads import HEADS, PROBABILITY, WHITEN, make_head
from ._options import FRACTIONS, HEAD_LIST, PCA, FractionsOption, PCAOption
from ._metrics import METRIC, METRIC_LABELS, METRICS, SEARCH_METRIC, MetricScorer
from ._predictions import write_predictions
from ._result import CVResult
from ._splits import FOLDS, REPEATS, SEED, make_splitter

__all__ = [
    "AlignedFeatureSets",
    "CONFLICTS",
    "Audit",
    "DEDUPE",
    "LabelIssues",
    "NearDuplicateRule",
    "audit",
    "calibration",
    "audit_configuration",
    "cluster_rows",
    "findings_json",
    "find_label_issues",
    "knn_outliers",
    "leak_groups",
    "map_2d",
    "near_duplicates",
    "DuplicatePlan",
    "exact_clusters",
    "merge_groups",
    "plan_duplicates",
    "straddling",
    "unique_keys",
    "AlignmentError",
    "Bundle",
    "BundleIntegrityError",
    "COMPAT_KEYS",
    "CVResult",
    "CV_OPTIONS",
    "ClassifyError",
    "ClassifyWarning",
    "ColumnSlice",
    "Comparison",
    "DEFAULT_GRIDS",
    "FRACTIONS",
    "FeatureSet",
    "FractionsOption",
    "FOLDS",
    "FeatureSetError",
    "GridError",
    "HEADS",
    "HEAD_LIST",
    "INNER_FOLDS",
    "IncompatibleBundleError",
    "JOBS",
    "METRIC",
    "METRICS",
    "METRIC_LABELS",
    "HEAD_COLOURS",
    "agg_figure",
    "confusion_png",
    "learning_curve_png",
    "map_png",
    "png_bytes",
    "reliability_png",
    "variance_png",
    "MetricScorer",
    "MissingDependencyError",
    "NESTED",
    "N_ITER",
    "NearestCentroidL2",
    "OutputExistsError",
    "PCA",
    "PCAOption",
    "PCA_GRID",
    "PROBABILITY",
    "PickleBundleWarning",
    "ParameterError",
    "REPEATS",
    "ReencodedXGBClassifier",
    "SEARCH",
    "SEARCH_METRIC",
    "SEED",
    "SplitError",
    "UnknownHeadError",
    "WHITEN",
    "align_feature_sets",
    "compare",
    "cross_validate_head",
    "ensemble_cv",
    "explained_variance",
    "features_digest",
    "fit_bundle",
    "check_head_tables",
    "grid_values",
    "is_skops_file",
    "learning_curve",
    "load_bundle",
    "make_head",
    "make_splitter",
    "most_common_params",
    "params_text",
    "parse_grid_text",
    "resolve_grid",
    "save_bundle",
    "splits_digest",
    "stratified_subset",
    "trusted_types",
    "write_predictions",
]
