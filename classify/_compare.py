"""Heads x feature sets on identical folds, and the tidy ``Comparison`` of their results."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence

from ._cv import _check_feature_set, check_jobs, prepare_head_cv, run_head_jobs
from ._errors import AlignmentError, OutputExistsError, MissingDependencyError, ParameterError, unknown_message
from ._features import FeatureSet, check_same_rows
from ._heads import check_head
from ._metrics import LOWER_IS_BETTER, METRICS, check_metric
from ._result import CVResult, to_jsonable
from ._splits import make_splitter


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """The :class:`CVResult` of every (feature set, head) configuration, all on the same folds."""

    results: tuple
    splits: list = dataclasses.field(default_factory=list, repr=False)

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

    def sorted(self, metric: str = "balanced_accuracy") -> list[CVResult]:
        """Results best first by the mean of ``metric`` (NaN last)."""
        check_metric(metric)
        sign = 1.0 if metric in LOWER_IS_BETTER else -1.0

        def key(r):
            v = r.metrics[metric]["mean"]
            return (math.isnan(v), sign * v if not math.isnan(v) else 0.0)

        return sorted(self.results, key=key)

    def best(self, metric: str = "balanced_accuracy") -> CVResult:
        """The configuration with the best mean ``metric`` (lowest for log_loss)."""
        return self.sorted(metric)[0]

    def table(self, metric: str = "balanced_accuracy", *, digits: int = 3) -> str:
        """A plain-text table, best first by ``metric``, for the CLI."""
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
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(to_jsonable(doc), fh, indent=2, allow_nan=False)
        os.replace(tmp, path)
        return path


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


def _check_heads(heads) -> list[str]:
    if isinstance(heads, str):
        heads = [h.strip() for h in heads.split(",") if h.strip()]
    heads = list(heads)
    if not heads:
        raise ParameterError("no heads given; pass e.g. heads=['logreg', 'svm']")
    for h in heads:
        check_head(h)
    if len(set(heads)) != len(heads):
        raise ParameterError(f"heads {heads} repeat a name; list every head once")
    return heads


def compare(
    feature_sets: Sequence[FeatureSet] | FeatureSet,
    heads: Sequence[str] | str,
    *,
    pca=None,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    nested: bool = False,
    jobs: int = 1,
    grids: Mapping[str, dict] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    **cv_kwargs,
) -> Comparison:
    """Cross-validate every head on every feature set on identical folds.

    All feature sets must describe the same rows in the same order (same labels, groups and,
    when present, keys; use :func:`align_feature_sets` first otherwise). The splits are made
    once from the first feature set and reused, so scores are paired. The folds of all
    configurations share one joblib pool of ``jobs`` workers. ``grids`` maps a head name to its
    grid overrides (nested only). ``progress(done, total, label)`` is called as each
    configuration completes (in order). Further keyword arguments go to :func:`cross_validate_head`
    (``inner_folds``, ``search``, ``n_iter``, ``whiten``, ``probability``...).
    """
    feature_sets = _check_feature_sets(feature_sets)
    heads = _check_heads(heads)
    jobs = check_jobs(jobs)
    check_same_rows(feature_sets, what="compare")
    grids = dict(grids or {})
    for h in grids:
        if h not in heads:
            raise ParameterError(unknown_message("head in grids", h, heads))
    if progress is not None and not callable(progress):
        raise ParameterError(f"progress must be a callable(done, total, label) or None; got {progress!r}")
    first = feature_sets[0]
    splits = make_splitter(first.y, first.groups, folds=folds, repeats=repeats, seed=seed, class_names=first.class_names)
    cv_jobs = [
        prepare_head_cv(fs, head, pca=pca, seed=seed, nested=nested, grid=grids.get(head), splits=splits, **cv_kwargs)
        for fs in feature_sets
        for head in heads
    ]
    results = run_head_jobs(cv_jobs, jobs=jobs, progress=progress)  # all folds of all configs in one pool
    return Comparison(results=tuple(results), splits=splits)
