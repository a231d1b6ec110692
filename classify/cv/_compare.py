"""Heads x feature sets on identical folds, and the tidy ``Comparison`` of their results."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence

from featx.common import to_jsonable, write_json

from featx.classify.cv._cv import NESTED, _check_feature_set, check_cluster, check_jobs, check_search_metric, prepare_head_cv, run_head_jobs
from featx.classify._errors import AlignmentError, MissingDependencyError, OutputExistsError, ParameterError, unknown_message
from featx.classify._features import FeatureSet, check_same_rows
from featx.classify.heads._heads import head_entries
from featx.classify._metrics import LOWER_IS_BETTER, METRIC, METRICS, SEARCH_METRIC, check_metric
from featx.classify.cv._result import CVResult
from featx.classify.cv._splits import FOLDS, REPEATS, SEED, make_splitter

#: Settings of cross_validate_head that configure featx's named heads (not your own estimators).
NAMED_HEAD_SETTINGS = ("pca", "whiten", "probability", "head_params")


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """The :class:`CVResult` of every (feature set, head) configuration, all on the same folds.

    ``metric`` is the ranking metric that :meth:`sorted`, :meth:`best` and :meth:`table` use
    when none is given (``compare``'s ``metric``).
    """

    results: tuple
    splits: list = dataclasses.field(default_factory=list, repr=False)
    metric: str = METRIC.default

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self):
        return iter(self.results)

    def get(self, feature_set: str, head: str) -> CVResult:
        for r in self.results:
            if r.feature_set == feature_set and r.head == head:
                return r
        configs = [f"{r.feature_set}/{r.head}" for r in self.results]
        raise ParameterError(unknown_message("configuration", f"{feature_set}/{head}", configs))

    def records(self) -> list[dict]:
        """One JSON-serialisable dict per configuration (see ``CVResult.summary_record``)."""
        return [r.summary_record() for r in self.results]

    def to_dataframe(self):
        """The records as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependencyError(
                "Comparison.to_dataframe() needs pandas, which is not installed; pip install pandas, or use .records()"
            ) from None
        return pd.DataFrame.from_records(self.records())

    def sorted(self, metric: str | None = None) -> list[CVResult]:
        """Results best first by the mean of ``metric`` (default: :attr:`metric`; NaN last)."""
        metric = check_metric(self.metric if metric is None else metric)
        sign = 1.0 if metric in LOWER_IS_BETTER else -1.0

        def key(r):
            v = r.metrics[metric]["mean"]
            return (math.isnan(v), sign * v if not math.isnan(v) else 0.0)

        return sorted(self.results, key=key)

    def best(self, metric: str | None = None) -> CVResult:
        """The configuration with the best mean ``metric`` (default: :attr:`metric`; lowest for log_loss)."""
        return self.sorted(metric)[0]

    def table(self, metric: str | None = None, *, digits: int = 3) -> str:
        """A plain-text table, best first by ``metric`` (default: :attr:`metric`), for the CLI."""
        metric = check_metric(self.metric if metric is None else metric)
        rows = self.sorted(metric)
        others = [m for m in METRICS if m != metric]
        header = ["feature_set", "head", f"{metric} mean+-std", "ci95", *others, "fit_s"]

        def fmt(v):
            return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"

        body = []
        for r in rows:
            m = r.metrics[metric]
            body.append([
                r.feature_set, r.head,
                f"{fmt(m['mean'])} +- {fmt(m['std'])}",
                f"[{fmt(m['ci95_low'])}, {fmt(m['ci95_high'])}]",
                *[fmt(r.metrics[o]["mean"]) for o in others],
                f"{sum(r.fit_times):.1f}",
            ])
        widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
        lines = ["  ".join(str(x).ljust(w) for x, w in zip(header, widths)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in body]
        return "\n".join(lines)

    def to_json(self, path, *, overwrite: bool = False, predictions: bool = False) -> str:
        """Write ``{"records": [...], "results": [CVResult.to_record(), ...]}`` to ``path``."""
        path = os.fspath(path)
        if os.path.exists(path) and not overwrite:
            raise OutputExistsError(f"{path!r} exists; pass overwrite=True (--force) or choose another path")
        doc = {"records": self.records(), "results": [r.to_record(predictions=predictions) for r in self.results]}
        return write_json(path, to_jsonable(doc), indent=2)


def _check_feature_sets(feature_sets) -> list[FeatureSet]:
    if isinstance(feature_sets, FeatureSet):
        feature_sets = [feature_sets]
    feature_sets = list(feature_sets)
    if not feature_sets:
        raise ParameterError("no feature sets given; pass at least one FeatureSet")
    for fs in feature_sets:
        _check_feature_set(fs)
    names = [fs.name for fs in feature_sets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise AlignmentError(f"feature set names {dup} are used twice; give every feature set a distinct name (e.g. cache:layer)")
    return feature_sets


def compare(
    feature_sets: Sequence[FeatureSet] | FeatureSet,
    heads,
    *,
    pca=None,
    folds: int = FOLDS.default, repeats: int = REPEATS.default, seed: int = SEED.default,  # the splits
    nested: bool = NESTED.default,
    jobs: int = 1,
    grids: Mapping[str, dict] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    metric: str = METRIC.default,
    search_metric: str | None = SEARCH_METRIC.default,
    cluster=None,
    **cv_kwargs,
) -> Comparison:
    """Cross-validate every head on every feature set on identical folds.

    All feature sets must describe the same rows in the same order (same labels, groups and,
    when present, keys; use :func:`align_feature_sets` first otherwise). The splits are made
    once from the first feature set and reused, so scores are paired. The folds of all
    configurations share one joblib pool of ``jobs`` workers.

    ``heads`` lists head names (or a comma-separated string of them), your own scikit-learn
    classifiers or Pipelines, and ``(label, classifier)`` pairs; your estimators are cloned per
    fold and get none of ``pca``, ``whiten``, ``probability`` or ``head_params``. ``grids`` maps
    a head's label to its grid overrides (nested only; the whole grid of your own estimator).
    ``metric`` ranks the results (``Comparison.best()``) and is what the nested search
    maximises unless ``search_metric`` names another. ``progress(done, total, label)`` is called
    as each configuration completes (in order). Further keyword arguments go to
    :func:`cross_validate_head` (``inner_folds``, ``search``, ``n_iter``, ``whiten``,
    ``probability``...).

    ``cluster`` (``"local:N"``, a scheduler address or a ``distributed.Client``) runs every
    fold of every configuration, and a nested search's grid points, on a Dask cluster in one
    submission (``jobs`` is then ignored), with the same results; the feature sets are sent to
    every worker once.
    """
    feature_sets = _check_feature_sets(feature_sets)
    entries = head_entries(heads)
    jobs = check_jobs(jobs)
    cluster = check_cluster(cluster)
    check_search_metric(search_metric, metric)
    check_same_rows(feature_sets, what="compare")
    labels = [label for label, _ in entries]
    grids = dict(grids or {})
    for h in grids:
        if h not in labels:
            raise ParameterError(unknown_message("head in grids", h, labels))
    if progress is not None and not callable(progress):
        raise ParameterError(f"progress must be a callable(done, total, label) or None; got {progress!r}")
    first = feature_sets[0]
    splits = make_splitter(first.y, first.groups, folds=folds, repeats=repeats, seed=seed, class_names=first.class_names)
    named = dict(cv_kwargs, pca=pca)
    own = {k: v for k, v in cv_kwargs.items() if k not in NAMED_HEAD_SETTINGS}
    cv_jobs = [
        prepare_head_cv(fs, (label, est) if est is not None else label, seed=seed, nested=nested, grid=grids.get(label),
                        splits=splits, metric=metric, search_metric=search_metric, **(named if est is None else own))
        for fs in feature_sets
        for label, est in entries
    ]
    results = run_head_jobs(cv_jobs, jobs=jobs, progress=progress, cluster=cluster)  # all folds of all configs in one pool
    return Comparison(results=tuple(results), splits=splits, metric=metric)
