"""featx.classify: classical heads on cached features, cross-validated the careful way.

Works on numpy arrays plus a provenance dict (never imports featx.extract or torch):

- :class:`FeatureSet` - features ``X`` (n, d) float32, labels, class names, groups, row keys, meta.
- :func:`make_head` - ``scale -> pca -> clf`` Pipelines for ``HEADS``; :data:`DEFAULT_GRIDS`
  and :func:`resolve_grid` for searches.
- :func:`make_splitter` - seeded stratified (grouped, repeated) folds, the same for every head.
- :func:`cross_validate_head` / :func:`compare` / :func:`ensemble_cv` - plain or nested CV,
  heads x feature sets on identical folds, soft voting and stacking across feature sets.
- :func:`fit_bundle` / :func:`save_bundle` / :func:`load_bundle` - fitted heads with provenance.
- :func:`learning_curve` / :func:`explained_variance` - score vs training size on the CV's
  folds, and the PCA spectrum of a feature set.
- The settings shared with the CLI and the pipeline spec, as :class:`featx.common.Option`:
  ``FOLDS``, ``INNER_FOLDS``, ``REPEATS``, ``SEED``, ``NESTED``, ``SEARCH``, ``N_ITER``,
  ``WHITEN``, ``PROBABILITY``, ``JOBS``, ``METRIC``, ``SEARCH_METRIC`` (``CV_OPTIONS``: the
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
from ._compare import Comparison, compare
from ._curves import explained_variance, learning_curve, stratified_subset
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
from ._grids import DEFAULT_GRIDS, PCA_GRID, SEARCH, resolve_grid
from ._heads import HEADS, PROBABILITY, WHITEN, make_head
from ._metrics import METRIC, METRICS, SEARCH_METRIC, MetricScorer
from ._result import CVResult
from ._splits import FOLDS, REPEATS, SEED, make_splitter

__all__ = [
    "AlignedFeatureSets",
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
    "FeatureSet",
    "FOLDS",
    "FeatureSetError",
    "GridError",
    "HEADS",
    "INNER_FOLDS",
    "IncompatibleBundleError",
    "JOBS",
    "METRIC",
    "METRICS",
    "MetricScorer",
    "MissingDependencyError",
    "NESTED",
    "N_ITER",
    "NearestCentroidL2",
    "OutputExistsError",
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
    "fit_bundle",
    "is_skops_file",
    "learning_curve",
    "load_bundle",
    "make_head",
    "make_splitter",
    "resolve_grid",
    "save_bundle",
    "stratified_subset",
    "trusted_types",
]
