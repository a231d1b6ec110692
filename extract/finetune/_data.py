"""Training data: the stratified validation split, augmentation and deterministic batches.

Every random choice is a pure function of (seed, epoch, image): the shuffle order comes from a
generator seeded per epoch and each image's augmentation from a seed of its own. A resumed run
therefore sees exactly the batches an uninterrupted one would, whatever the number of workers.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from featx.extract._images import decode_rgb, read_bytes
from featx.extract._preprocess import Preprocessing
from featx.extract._sources import SourceTable
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
    for c in range(len(table.class_names)):
        n_val = math.floor(counts[c] * val_fraction + 0.5)
        if n_val < 1 or counts[c] - n_val < 1:
            need = max(2, math.ceil(0.5 / val_fraction))
            raise FinetuneDataError(
                f"class {table.class_names[c]!r} has {counts[c]} image(s): too few for a {val_fraction:g} "
                f"validation split (it needs at least {need} for one validation and one training image); "
                "add images, raise --val-fraction, or pass --val-fraction 0 to train without early stopping"
            )
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
    """PIL RGB -> uint8 CHW tensor: random resized crop, flip and colour jitter (or, without
    augmentation, the model's own resize + centre crop)."""
    if not augment:
        return pre.pil_transform()
    from torchvision.transforms import InterpolationMode, v2

    return v2.Compose([
        v2.RandomResizedCrop(pre.crop_size, scale=RRC_SCALE, interpolation=InterpolationMode(pre.interpolation),
                             antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=JITTER, contrast=JITTER, saturation=JITTER),
        v2.PILToTensor(),
    ])


class ImageRows(torch.utils.data.Dataset):
    """Position -> (uint8 CHW tensor or None, label, position, failure reason).

    ``epoch`` and ``seed`` make the augmentation of each image reproducible: the transform runs
    under a CPU RNG seeded from (seed, epoch, position), restored afterwards.
    """

    def __init__(self, files: list[str], labels: np.ndarray, transform, draft_size: int | None,
                 seed: int | None = None):
        self.files = files
        self.labels = np.asarray(labels, dtype=np.int64)
        self.transform = transform
        self.draft_size = draft_size
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        label = int(self.labels[i])
        try:
            img = decode_rgb(read_bytes(self.files[i]), draft_size=self.draft_size)
        except (OSError, ValueError) as exc:
            return None, label, i, str(getattr(exc, "strerror", None) or exc)
        try:
            if self.seed is None:
                return self.transform(img), label, i, ""
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(self.seed, self.epoch, i))
                return self.transform(img), label, i, ""
        except Exception as exc:  # an odd image must not kill a worker
            return None, label, i, f"cannot preprocess image: {type(exc).__name__}: {exc}"[:250]


def collate(items):
    ok = [it for it in items if it[0] is not None]
    images = torch.stack([it[0] for it in ok]) if ok else None
    labels = torch.tensor([it[1] for it in ok], dtype=torch.int64)
    failed = [(it[2], it[3]) for it in items if it[0] is None]
    return images, labels, failed


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


def default_workers(n_images: int, batch_size: int) -> int:
    if n_images <= 2 * batch_size:
        return 0
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def make_loader(dataset: ImageRows, batches: list[list[int]], workers: int, pin_memory: bool):
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batches, collate_fn=collate, num_workers=workers, pin_memory=pin_memory,
        prefetch_factor=2 if workers else None,
    )
