"""``FeatureSet``: one layer's features of a set of images, with labels and provenance."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

from featx.classify._errors import AlignmentError, FeatureSetError


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureSet:
    """Features ``X`` (n, d) float32 with integer labels ``y`` indexing ``class_names``.

    ``groups`` (subject, source, video...) keeps related rows on one side of every split;
    ``keys`` identify rows (content hashes, paths) so several feature sets of the same images can
    be matched; ``meta`` is provenance (model, weights hash, layer, pooling...) copied unchanged
    into results and bundles. Negative labels (``-1``) mark unlabelled rows (allowed here, refused by CV).

    Shapes, finiteness and label range are checked here; the checks that only matter for
    cross-validation (labels present, two classes, two samples per class) are in
    :meth:`check_labelled`.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    groups: np.ndarray | None = None
    keys: np.ndarray | None = None
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        def set_(field, value):  # frozen dataclass: normalise fields once, here
            object.__setattr__(self, field, value)

        if not isinstance(self.name, str) or not self.name:
            raise FeatureSetError(f"feature set name must be a non-empty string, got {self.name!r}; pass name='layer4' or similar")
        X = np.asarray(self.X)
        if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise FeatureSetError(f"feature set {self.name!r}: X must be numeric, got dtype {X.dtype}; pass the feature array read from the cache")
        if X.ndim != 2:
            raise FeatureSetError(f"feature set {self.name!r}: X must be 2-D (rows, features), got shape {X.shape}; flatten or pool the features first")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise FeatureSetError(f"feature set {self.name!r} is empty (X shape {X.shape}); extract features for at least 2 images per class first")
        X = np.ascontiguousarray(X, dtype=np.float32)
        bad = ~np.isfinite(X).all(axis=1)
        if bad.any():
            raise FeatureSetError(
                f"feature set {self.name!r}: {int(bad.sum())} of {X.shape[0]} rows contain NaN or inf "
                f"(first at row {int(np.flatnonzero(bad)[0])}); re-extract with --dtype float32 or drop those rows"
            )
        set_("X", X)
        n = X.shape[0]

        class_names = [str(c) for c in self.class_names]
        if len(set(class_names)) != len(class_names):
            dup = sorted({c for c in class_names if class_names.count(c) > 1})
            raise FeatureSetError(f"feature set {self.name!r}: duplicate class names {dup}; class names must be unique")
        set_("class_names", class_names)

        y = np.asarray(self.y)
        if y.ndim != 1 or y.shape[0] != n:
            raise FeatureSetError(f"feature set {self.name!r}: y must be 1-D with one label per row ({n}), got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise FeatureSetError(
                    f"feature set {self.name!r}: y must hold integer class indices, got dtype {y.dtype}; "
                    f"use FeatureSet.from_labels(name, X, labels) for string labels"
                )
        y = y.astype(np.int64, copy=False)
        if y.size and y.max() >= len(class_names):
            raise FeatureSetError(
                f"feature set {self.name!r}: label {int(y.max())} is outside 0..{len(class_names) - 1} "
                f"({len(class_names)} class names); pass the matching class_names"
            )
        set_("y", y)

        for field in ("groups", "keys"):
            value = getattr(self, field)
            if value is None:
                continue
            value = np.asarray(value)
            if value.ndim != 1 or value.shape[0] != n:
                raise FeatureSetError(f"feature set {self.name!r}: {field} must be 1-D with one entry per row ({n}), got shape {value.shape}")
            set_(field, value)
        if self.keys is not None:
            uniq, counts = np.unique(self.keys, return_counts=True)
            if uniq.size != n:
                raise FeatureSetError(
                    f"feature set {self.name!r}: {n - uniq.size} duplicate keys (e.g. {uniq[counts > 1][0]!r}); "
                    f"keys must identify rows uniquely: drop duplicate images or use paths as keys"
                )
        set_("meta", dict(self.meta or {}))

    # -- construction helpers -------------------------------------------------------------------

    @classmethod
    def from_labels(cls, name: str, X, labels: Sequence, *, class_names: Sequence[str] | None = None, **kwargs) -> FeatureSet:
        """Build from label values (strings or ints); class order is sorted unless given."""
        labels = np.asarray(labels)
        if class_names is None:
            class_names = [str(c) for c in np.unique(labels)]
        index = {c: i for i, c in enumerate(str(c) for c in class_names)}
        missing = sorted({str(v) for v in labels} - set(index))
        if missing:
            raise FeatureSetError(f"feature set {name!r}: labels {missing[:5]} are not in class_names {list(index)}; pass every class name")
        y = np.array([index[str(v)] for v in labels], dtype=np.int64)
        return cls(name=name, X=X, y=y, class_names=list(index), **kwargs)

    # -- properties -----------------------------------------------------------------------------

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index, *, name: str | None = None) -> FeatureSet:
        """A new feature set with the rows ``index`` (in that order)."""
        index = np.asarray(index)
        return FeatureSet(
            name=name or self.name,
            X=self.X[index],
            y=self.y[index],
            class_names=list(self.class_names),
            groups=None if self.groups is None else self.groups[index],
            keys=None if self.keys is None else self.keys[index],
            meta=dict(self.meta),
        )

    def check_labelled(self) -> FeatureSet:
        """Raise unless the rows can be cross-validated: labelled, >= 2 classes, >= 2 rows each."""
        unlabelled = int((self.y < 0).sum())
        if unlabelled:
            raise FeatureSetError(
                f"feature set {self.name!r}: {unlabelled} of {self.n_samples} rows are unlabelled (y < 0); "
                f"cross-validation and fitting need labels: drop those rows (e.g. fs.subset(fs.y >= 0)) or label them"
            )
        counts = np.bincount(self.y, minlength=self.n_classes)
        present = np.flatnonzero(counts)
        if present.size < 2:
            only = self.class_names[int(present[0])] if present.size else "none"
            raise FeatureSetError(
                f"feature set {self.name!r} has one class only ({only!r}, {self.n_samples} rows); "
                f"a classifier needs at least 2 classes: add images of another class"
            )
        few = [(self.class_names[i], int(counts[i])) for i in present if counts[i] < 2]
        if few:
            listed = ", ".join(f"{c!r} ({k})" for c, k in few)
            raise FeatureSetError(
                f"feature set {self.name!r}: class {listed} has fewer than 2 samples; "
                f"cross-validation needs at least 2 per class: add images or drop the class"
            )
        return self

    def __repr__(self) -> str:
        return (
            f"FeatureSet(name={self.name!r}, X={self.X.shape}, classes={self.n_classes}, "
            f"groups={'yes' if self.groups is not None else 'no'}, keys={'yes' if self.keys is not None else 'no'})"
        )


def check_same_rows(feature_sets: Sequence[FeatureSet], *, what: str = "compare") -> None:
    """Raise ``AlignmentError`` unless all feature sets have the same rows in the same order."""
    first = feature_sets[0]
    for fs in feature_sets[1:]:
        if fs.n_samples != first.n_samples:
            raise AlignmentError(
                f"{what}: feature set {fs.name!r} has {fs.n_samples} rows but {first.name!r} has {first.n_samples}; "
                f"all feature sets must describe the same images (use align_feature_sets to match them by keys)"
            )
        if fs.class_names != first.class_names:
            raise AlignmentError(
                f"{what}: feature set {fs.name!r} has classes {fs.class_names} but {first.name!r} has {first.class_names}; "
                f"use caches made from the same image source"
            )
        if not np.array_equal(fs.y, first.y):
            k = int(np.flatnonzero(fs.y != first.y)[0])
            raise AlignmentError(
                f"{what}: labels of {fs.name!r} differ from {first.name!r} (first at row {k}); "
                f"rows must be in the same order: use align_feature_sets to match them by keys"
            )
        if fs.keys is not None and first.keys is not None and not np.array_equal(fs.keys, first.keys):
            raise AlignmentError(
                f"{what}: row keys of {fs.name!r} differ from {first.name!r}; "
                f"rows must be in the same order: use align_feature_sets to match them by keys"
            )
        if (fs.groups is None) != (first.groups is None) or (
            fs.groups is not None and not np.array_equal(fs.groups, first.groups)
        ):
            raise AlignmentError(
                f"{what}: groups of {fs.name!r} differ from {first.name!r}; give every feature set the same groups (or none)"
            )


class AlignedFeatureSets(list):
    """The feature sets :func:`align_feature_sets` returns (a list, in the order given), with
    ``dropped``: ``{feature set name: rows of it left out}`` (all 0 unless ``missing="drop"``)."""

    def __init__(self, feature_sets, dropped: dict):
        super().__init__(feature_sets)
        self.dropped = dict(dropped)

    @property
    def n_dropped(self) -> int:
        """The most rows any one feature set lost (0: every set kept all its rows)."""
        return max(self.dropped.values(), default=0)


def align_feature_sets(feature_sets: Sequence[FeatureSet], *, missing: str = "error") -> AlignedFeatureSets:
    """Feature sets of the same images, row-matched through their ``keys``.

    ``missing="error"`` (default): the key sets must be equal; every set is reordered to the
    row order of the first. ``missing="drop"``: rows whose key some set lacks are left out of
    every set, and the rows kept (those whose keys every set has) are put in sorted key order;
    ``result.dropped`` says how many rows each set lost (``result.n_dropped``: the most).

    Every feature set needs ``keys``. Labels, class names and groups must then agree row by row
    (checked). Returns an :class:`AlignedFeatureSets` (a list, one set per input, same order).
    """
    if missing not in ("error", "drop"):
        raise AlignmentError(f"missing must be 'error' or 'drop'; got {missing!r}")
    feature_sets = list(feature_sets)
    if not feature_sets:
        raise AlignmentError("no feature sets given; pass at least one")
    nokeys = [fs.name for fs in feature_sets if fs.keys is None]
    if nokeys:
        raise AlignmentError(
            f"feature sets {nokeys} have no keys; rows can only be matched by keys (content hashes or paths): "
            f"read them from the cache with keys"
        )
    first = feature_sets[0]
    if missing == "drop":
        ref = functools.reduce(np.intersect1d, [fs.keys for fs in feature_sets])  # sorted, unique
    else:
        ref = first.keys
        for fs in feature_sets[1:]:
            a, b = set(ref.tolist()), set(fs.keys.tolist())
            if a != b:
                raise AlignmentError(
                    f"feature sets {first.name!r} and {fs.name!r} describe different images "
                    f"({len(a - b)} keys only in the first, {len(b - a)} only in the second); extract both from the same "
                    f"source, or pass missing='drop' to keep the rows every set has"
                )
    if not len(ref):
        raise AlignmentError(f"feature sets {[fs.name for fs in feature_sets]} share no keys; they describe different images")
    out = []
    for fs in feature_sets:
        if fs is first and missing == "error":
            out.append(fs)
            continue
        pos = {k: i for i, k in enumerate(fs.keys.tolist())}
        order = np.fromiter((pos[k] for k in ref.tolist()), dtype=np.int64, count=len(ref))
        out.append(fs.subset(order))
    check_same_rows(out, what="align")
    return AlignedFeatureSets(out, {fs.name: fs.n_samples - len(ref) for fs in feature_sets})
