"""The held-out rows of a transfer study: the source's own split when it has one, else outer
stratified folds; and the stratified training subsets of a data-efficiency curve.

Every approach of a study (frozen features, fine-tuning, scratch) is scored on the same held-out
rows; nothing fitted, early-stopped or selected may see them. A folder source with ``train/`` and
``val/`` (or ``Training/`` and ``Testing/``) sub-folders records each image's split: those rows
are used as they are (one split). Any other source gets ``folds`` stratified folds, which costs
``folds`` trainings per fine-tuning strategy instead of one.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from featx.classify._curves import stratified_subset
from featx.classify._errors import SplitError

TRAIN_WORDS = ("train", "training")
TEST_WORDS = ("test", "testing", "val", "valid", "validation")


@dataclasses.dataclass(frozen=True)
class Holdout:
    """``splits``: (train, test) index arrays into the rows given to :func:`holdout_splits`;
    ``kind``: ``"source"`` (the source's own split) or ``"folds"``; ``description``: one sentence."""

    splits: tuple
    kind: str
    description: str

    @property
    def n_test(self) -> int:
        return int(sum(len(t) for _, t in self.splits))


def holdout_splits(y, split_names=None, *, folds: int = 3, seed: int = 0, groups=None) -> Holdout:
    """The held-out split(s) of rows with labels ``y``.

    ``split_names`` (one per row, e.g. a cache's ``splits``): when some rows are in a training
    split (train/training) and others in a test split (test/testing, else val/valid/validation),
    those are the one split; rows of a validation split next to a test split join training
    (early stopping splits the training part itself). Otherwise ``folds`` seeded stratified folds,
    group-aware when ``groups`` (one per row: exact copies, near-duplicate clusters) joins rows, so
    no group is on both sides of a fold.
    """
    y = np.asarray(y)
    names = [str(s or "").lower() for s in (split_names if split_names is not None else [""] * len(y))]
    if len(names) != len(y):
        raise SplitError(f"{len(names)} split names for {len(y)} rows; pass one split name per row")
    present = set(names)
    test_word = next((w for w in ("test", "testing") if w in present), None) or next(
        (w for w in TEST_WORDS if w in present), None)
    if test_word and present & set(TRAIN_WORDS):
        test = np.flatnonzero([n == test_word for n in names])
        train = np.flatnonzero([n != test_word for n in names])
        others = sorted(present - {test_word})
        return Holdout(((train, test),), "source",
                       f"the source's own split: {len(train)} training images ({', '.join(others)}) and {len(test)} held-out "
                       f"images ({test_word})")
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y) if len(y) else np.zeros(0, int)
    smallest = int(counts[counts > 0].min()) if len(y) else 0
    if smallest < 2:
        raise SplitError("a class has fewer than 2 images: no held-out row can be kept for it; add images to every class")
    k = max(2, min(int(folds), smallest))
    grouped = groups is not None and len(set(np.asarray(groups).tolist())) < len(y)
    if grouped:
        from sklearn.model_selection import StratifiedGroupKFold

        skf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=int(seed))
        parts = skf.split(np.zeros(len(y)), y, np.asarray(groups))
    else:
        skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=int(seed))
        parts = skf.split(np.zeros(len(y)), y)
    splits = tuple((np.sort(tr), np.sort(te)) for tr, te in parts)
    capped = f" (capped from {folds} at the smallest class's {smallest} images)" if k < int(folds) else ""
    return Holdout(splits, "folds", f"{k} stratified{' group-aware' if grouped else ''} outer folds{capped}, seed {seed}: every image is held out once; each "
                                    f"approach trains {k} times")


def efficiency_subsets(train, y, fractions, seed: int = 0) -> dict:
    """``{fraction: rows}``: a stratified, seeded subset of ``train`` per fraction (at least one
    image per class), nested the same way for every approach (``fraction >= 1``: all of ``train``)."""
    out = {}
    for f in fractions:
        rng = np.random.RandomState(int(seed) + int(round(float(f) * 1000)))
        out[float(f)] = stratified_subset(np.asarray(train), np.asarray(y), float(f), rng)
    return out

