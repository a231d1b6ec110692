"""Seeded, stratified (optionally grouped and repeated) cross-validation splits, materialised once."""

from __future__ import annotations

import warnings
import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold, StratifiedKFold

from featx.classify._errors import ClassifyWarning, SplitError, check_option
from featx.classify.heads._options import FOLDS, REPEATS, SEED  # noqa: F401 (defined in the light module)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _label(c, class_names) -> str:
    c = _plain(c)
    if class_names is not None and isinstance(c, int) and 0 <= c < len(class_names):
        return repr(class_names[c])
    return repr(c)


def make_splitter(y, groups=None, *, folds: int = 5, repeats: int = 1, seed: int = 0, class_names=None):
    """Stratified (group-aware when ``groups`` is given) K-fold splits as a list of (train, test).

    The same ``y``, ``groups`` and ``seed`` always give the same splits, so every head and feature
    set of the same images is evaluated on identical folds (paired comparisons).

    ``folds`` is capped at the smallest class count (with groups: at the smallest number of
    groups any class appears in) with a :class:`ClassifyWarning`. A class with fewer than 2
    samples (or groups) is an error. ``repeats > 1`` repeats the K-fold with derived seeds.
    """
    folds = check_option(FOLDS, folds)
    repeats = check_option(REPEATS, repeats)
    seed = check_option(SEED, seed)
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise SplitError(f"y must be a non-empty 1-D array of labels; got shape {y.shape}")
    if np.issubdtype(y.dtype, np.integer) and (y < 0).any():
        raise SplitError(
            f"{int((y < 0).sum())} rows are unlabelled (y < 0); cross-validation needs labels: drop or label those rows"
        )
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    if classes.size < 2:
        raise SplitError(f"y has one class only ({_label(classes[0], class_names)}); cross-validation needs at least 2 classes")
    if counts.min() < 2:
        c = classes[int(np.argmin(counts))]
        raise SplitError(
            f"class {_label(c, class_names)} has {int(counts.min())} sample; cross-validation needs at least 2 per class: "
            f"add images or drop the class"
        )
    if groups is None:
        limit, why = int(counts.min()), "the smallest class ({c}) has {k} samples"
        c_min = classes[int(np.argmin(counts))]
    else:
        groups = np.asarray(groups)
        if groups.shape != y.shape:
            raise SplitError(f"groups must have one entry per row ({y.size}); got shape {groups.shape}")
        per_class = np.array([np.unique(groups[y_idx == i]).size for i in range(classes.size)])
        if per_class.min() < 2:
            c = classes[int(np.argmin(per_class))]
            raise SplitError(
                f"class {_label(c, class_names)} occurs in only 1 group; group-aware cross-validation needs every class "
                f"in at least 2 groups: add groups or run without groups"
            )
        limit, why = int(per_class.min()), "class {c} occurs in only {k} groups"
        c_min = classes[int(np.argmin(per_class))]
    if folds > limit:
        warnings.warn(
            f"folds capped from {folds} to {limit} because {why.format(c=_label(c_min, class_names), k=limit)}; "
            f"pass folds<={limit} to silence this",
            ClassifyWarning,
            stacklevel=2,
        )
        folds = limit

    if groups is None:
        if repeats == 1:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        else:
            splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
        splits = list(splitter.split(np.zeros((y.size, 1)), y))
    else:
        splits = []
        rng = np.random.RandomState(seed)
        for r in range(repeats):
            rs = seed if r == 0 else int(rng.randint(np.iinfo(np.int32).max))
            splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=rs)
            splits.extend(splitter.split(np.zeros((y.size, 1)), y, groups))
    return [(np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)) for tr, te in splits]


def check_splits(splits, n_samples: int, groups=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validate user-given splits: index ranges, disjoint train/test, groups not straddling."""
    out = []
    try:
        splits = list(splits)
    except TypeError:
        raise SplitError(f"splits must be a list of (train, test) index arrays; got {type(splits).__name__}") from None
    if not splits:
        raise SplitError("splits is empty; pass a list of (train, test) index arrays, e.g. from make_splitter")
    for i, pair in enumerate(splits):
        try:
            train, test = pair
        except (TypeError, ValueError):
            raise SplitError(f"split {i} is not a (train, test) pair; pass the list returned by make_splitter") from None
        train = np.asarray(train, dtype=np.int64)
        test = np.asarray(test, dtype=np.int64)
        if train.size == 0 or test.size == 0:
            raise SplitError(f"split {i} has an empty train or test part; every fold needs rows on both sides")
        lo, hi = min(train.min(), test.min()), max(train.max(), test.max())
        if lo < 0 or hi >= n_samples:
            raise SplitError(f"split {i} has index {int(hi if hi >= n_samples else lo)} outside 0..{n_samples - 1}; make splits for these rows")
        if np.intersect1d(train, test).size:
            raise SplitError(f"split {i} has rows in both train and test; train and test must be disjoint")
        if groups is not None:
            shared = np.intersect1d(groups[train], groups[test])
            if shared.size:
                raise SplitError(f"split {i}: group {_plain(shared[0])!r} is in both train and test; make group-aware splits (make_splitter(y, groups))")
        out.append((train, test))
    return out


def repeat_ids(splits, n_samples: int) -> list[int]:
    """Which repeat each fold belongs to: a new repeat starts when a test row is seen again."""
    ids, seen, r = [], np.zeros(n_samples, dtype=bool), 0
    for _, test in splits:
        if seen[test].any():
            r += 1
            seen[:] = False
        seen[test] = True
        ids.append(r)
    return ids
