"""Training data: the stratified validation split, augmentation and deterministic batches,
loaded by extraction's one image-loading path and worker policy (:mod:`featx.extract.images._loading`).

Every random choice is a pure function of (seed, epoch, image): the shuffle order comes from a
generator seeded per epoch and each image's augmentation from a seed of its own. A resumed run
therefore sees exactly the batches an uninterrupted one would, whatever the number of workers.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

from featx.extract.images import _loading
from featx.extract.images._images import DEFAULT_MAX_PIXELS
from featx.extract._preprocess import Preprocessing
from featx.extract.images._sources import SourceTable
from featx.extract.finetune._errors import FinetuneDataError

RRC_SCALE = (0.25, 1.0)  # gentler than ImageNet's (0.08, 1): small data sets, pretrained features
JITTER = 0.3


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (numpy's SeedSequence)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


def training_rows(table: SourceTable, rows=None) -> np.ndarray:
    """The table rows to fine-tune on (all by default), checked to carry labels."""
    all_rows = np.arange(len(table), dtype=np.int64)
    if rows is None:
        chosen = all_rows
    else:
        chosen = np.asarray(rows, dtype=np.int64).reshape(-1)
        bad = chosen[(chosen < 0) | (chosen >= len(table))]
        if len(bad):
            raise FinetuneDataError(f"row {int(bad[0])} is outside the source's {len(table)} rows; pass row indices of the source")
        if len(np.unique(chosen)) != len(chosen):
            raise FinetuneDataError("the rows to fine-tune on list an image twice; pass each row index once")
    if not table.class_names or (len(chosen) and (table.labels[chosen] < 0).any()):
        raise FinetuneDataError(
            f"{table.root!r} has no class labels; fine-tuning needs a folder with one sub-folder per class "
            "or a CSV manifest with a label column"
        )
    return chosen


def split_problem(counts: dict, val_fraction: float, key: str = "--val-fraction") -> str | None:
    """Why the early-stopping split of ``val_fraction`` cannot be made from ``counts`` (class ->
    training images), or None. ``key`` names the setting where it was given: ``--val-fraction``
    on the command line, ``finetune.val_fraction`` in a spec."""
    if val_fraction <= 0:
        return None
    set_zero = f"pass {key} 0" if key.startswith("-") else f"set {key} = 0"
    for name, n in counts.items():
        n_val = math.floor(n * val_fraction + 0.5)
        if n_val < 1 or n - n_val < 1:
            need = max(2, math.ceil(0.5 / val_fraction))
            return (f"class {name!r} has {n} image(s): too few for a {val_fraction:g} validation split "
                    f"(it needs at least {need} for one validation and one training image); add images, change {key}, "
                    f"or {set_zero} to train without early stopping")
    return None


def split_rows(table: SourceTable, rows: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified, seeded (train, validation) split of ``rows``; group-aware when the source has
    groups (no group on both sides). Every class must be present, and on both sides."""
    labels = table.labels[rows]
    counts = np.bincount(labels, minlength=len(table.class_names))
    present = [c for c in range(len(table.class_names)) if counts[c] > 0]
    if len(present) < 2:
        only = f" (only {table.class_names[present[0]]!r})" if present else ""
        raise FinetuneDataError(
            f"fine-tuning needs at least 2 classes; the training images have {len(present)}{only}; "
            "add a sub-folder (or manifest label) per class"
        )
    missing = [table.class_names[c] for c in range(len(table.class_names)) if counts[c] == 0]
    if missing:
        raise FinetuneDataError(
            f"class {missing[0]!r} has no images among the rows to fine-tune on ({len(missing)} class(es) "
            "missing); include images of every class of the source"
        )
    if val_fraction <= 0:
        return rows.copy(), rows[:0].copy()
    problem = split_problem(dict(zip(table.class_names, counts.tolist())), val_fraction)
    if problem:
        raise FinetuneDataError(problem)
    groups = [table.groups[i] for i in rows] if table.groups else []
    if groups and any(groups):
        return _group_split(rows, labels, groups, val_fraction, seed, table.class_names)
    rng = np.random.default_rng(derive_seed(seed, 1))
    val = []
    for c in range(len(table.class_names)):
        members = rows[labels == c]
        n_val = math.floor(len(members) * val_fraction + 0.5)
        val.extend(rng.permutation(members)[:n_val].tolist())
    val_set = set(val)
    return np.array([r for r in rows if r not in val_set], dtype=np.int64), np.array(sorted(val), dtype=np.int64)


def _group_split(rows, labels, groups, val_fraction, seed, class_names):
    from sklearn.model_selection import StratifiedGroupKFold

    n_splits = max(2, round(1 / val_fraction))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=derive_seed(seed, 1) % (2**32))
    train_idx, val_idx = next(splitter.split(np.zeros(len(rows)), labels, groups))
    for side, idx in (("training", train_idx), ("validation", val_idx)):
        absent = sorted(set(range(len(class_names))) - set(labels[idx].tolist()))
        if absent:
            raise FinetuneDataError(
                f"the group-aware validation split leaves class {class_names[absent[0]]!r} without {side} "
                "images; add groups for that class or pass --val-fraction 0"
            )
    return np.sort(rows[train_idx]), np.sort(rows[val_idx])


def train_transform(pre: Preprocessing, augment: bool):
    """PIL RGB -> pixels: random resized crop, flip and colour jitter (a PIL image), or, without
    augmentation, the model's own resize + centre crop."""
    if not augment:
        return pre.pil_transform()
    from torchvision.transforms import InterpolationMode, v2

    return v2.Compose([
        v2.RandomResizedCrop(pre.crop_size, scale=RRC_SCALE, interpolation=InterpolationMode(pre.interpolation),
                             antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=JITTER, contrast=JITTER, saturation=JITTER),
    ])


# torch's CPU generator is one per process: decoding threads take turns on it (decoding itself,
# the costly part, runs in parallel outside the lock)
_RNG_LOCK = threading.Lock()


class ImageRows(_loading.ImageRows):
    """The shared image-rows dataset (:class:`featx.extract.images._loading.ImageRows`: read, decode,
    transform; no hashing) with the labels of its positions and reproducible augmentation.

    With a ``seed``, each image's transform runs under the CPU generator seeded from (seed,
    ``epoch``, position), restored afterwards: the same pixels in worker processes, in decoding
    threads or in the main thread.
    """

    def __init__(self, files: list[str], labels: np.ndarray, transform, draft_size: int | None,
                 seed: int | None = None):
        super().__init__(files, transform, DEFAULT_MAX_PIXELS, draft_size, hashes=False)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.seed = seed
        self.epoch = 0

    def pixels(self, img, position: int) -> np.ndarray:
        if self.seed is None:
            return super().pixels(img, position)
        with _RNG_LOCK, torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(derive_seed(self.seed, self.epoch, position))
            return super().pixels(img, position)


def epoch_batches(n: int, batch_size: int, seed: int | None, epoch: int) -> list[list[int]]:
    """Shuffled positions cut into batches (in order when ``seed`` is None). A last batch of a
    single image joins the one before: BatchNorm cannot train on one image."""
    if seed is None:
        order = list(range(n))
    else:
        g = torch.Generator().manual_seed(derive_seed(seed, epoch, 2))
        order = torch.randperm(n, generator=g).tolist()
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2].extend(batches.pop())
    return batches


def make_loader(dataset: ImageRows, batches: list[list[int]], workers: int, pin_memory: bool):
    """Batches of ``dataset`` as (uint8 images (N, 3, H, W) channels_last or None, labels, failed
    [(position, reason)]), loaded by the one loading path (in-process threads for ``workers=0``)."""
    loader = _loading.make_loader(dataset, batches, workers, pin_memory)
    try:
        for positions, images, _hashes, bad, _bad_hashes, reasons in loader:
            labels = torch.as_tensor(dataset.labels[positions], dtype=torch.int64)
            yield images, labels, list(zip(bad.tolist(), reasons))
    finally:
        if hasattr(loader, "close"):
            loader.close()


# the worker policy is extraction's (0 processes on the CPU, up to 4 on a GPU)
default_workers = _loading.default_workers
