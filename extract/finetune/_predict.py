"""Classifying images directly with a fine-tuned checkpoint's own head (``featx predict``)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from featx.common.files import write_csv
from featx.extract.images import _loading
from featx.extract.models._backbones import build_backbone
from featx.extract.runtime._compute import resolve_device
from featx.extract._errors import CheckpointError
from featx.extract.runtime._runtime import build_runtime
from featx.extract.images._sources import SourceTable, open_source
from featx.extract.finetune._groups import find_head
from featx.common.progress import progress_bar


class Prediction(NamedTuple):
    """One image: its path (as listed by the source), the predicted class, class probabilities."""

    path: str
    label: str
    probs: np.ndarray


@dataclass
class Predictions:
    """Predictions for the decodable images of a source; iterating yields :class:`Prediction` rows.

    ``probs`` is (n, K) float32 with columns in ``class_names`` order; ``true_labels`` holds the
    source's labels (None when unlabelled); ``failures`` the images that could not be decoded.
    """

    checkpoint: str
    class_names: list[str]
    paths: list[str]
    labels: list[str]
    probs: np.ndarray
    true_labels: list[str] | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self):
        for i, path in enumerate(self.paths):
            yield Prediction(path, self.labels[i], self.probs[i])

    def accuracy(self) -> float | None:
        """Share of images whose predicted class equals the source's label (None: unlabelled)."""
        if self.true_labels is None or not self.paths:
            return None
        return float(np.mean([p == t for p, t in zip(self.labels, self.true_labels)]))


def predict_with_checkpoint(checkpoint: str, source, *, batch_size: int = 64, workers: int | None = None,
                            device: str = "auto", precision: str = "auto", tta: str = "none",
                            progress: bool = False, runtime: str = "auto", rows=None) -> Predictions:
    """Run the checkpoint's classifier over ``source`` (folder, CSV manifest or SourceTable), on
    the inference ``runtime`` (auto, torch, openvino) extraction uses: the logits are the head's
    output, tapped like any layer. ``rows`` restricts it to those row indices of the source (e.g.
    a study's held-out rows)."""
    checkpoint = os.fspath(checkpoint)
    if not os.path.isfile(checkpoint):
        raise CheckpointError(f"checkpoint {checkpoint!r} does not exist; check the path or run 'featx finetune' first")
    backbone = build_backbone(checkpoint)
    classes = list(backbone.classes)
    head = find_head(backbone.module)
    out_features = getattr(backbone.module.get_submodule(head), "out_features", None)
    if not classes or out_features != len(classes):
        raise CheckpointError(
            f"{checkpoint!r} has {len(classes)} class names for a head of {out_features} outputs; "
            "predict needs a checkpoint written by 'featx finetune'"
        )
    table = source if isinstance(source, SourceTable) else open_source(source)
    if rows is not None:
        rows = [int(r) for r in rows]
        table = dataclasses.replace(table, paths=[table.paths[r] for r in rows], labels=table.labels[rows],
                                    groups=[table.groups[r] for r in rows] if table.groups else [],
                                    splits=[table.splits[r] for r in rows] if table.splits else [])
    dev = resolve_device(device)
    computer = build_runtime(runtime, backbone, [head], "avg", dev, precision, tta)
    pre = backbone.preprocessing
    files = [table.absolute(i) for i in range(len(table))]
    # decoded as extraction decodes (JPEG draft mode), by the same loading path and worker policy
    dataset = _loading.ImageRows(files, pre.pil_transform(), draft_size=_loading.draft_size(pre, True), hashes=False)
    n, size = len(files), int(batch_size)
    n_workers = _loading.default_workers(n, size, dev) if workers is None else int(workers)
    ahead = 1 if computer.name == "openvino" else 0  # decoding overlaps OpenVINO's requests (see _loading)
    loader = _loading.make_loader(dataset, _loading.blocks(np.arange(n), size), n_workers, dev.type == "cuda", ahead)
    rows, chunks, failures = [], [], []
    bar = progress_bar(n, "predict", progress, unit="img")
    try:
        for ok, images, _hashes, bad, _bad_hashes, reasons in loader:  # the dataset's positions are table rows
            failures.extend((table.paths[row], reason) for row, reason in zip(bad.tolist(), reasons))
            if images is not None:
                logits = torch.from_numpy(computer(images)[head]).float()
                chunks.append(torch.softmax(logits, dim=1).numpy())
                rows.extend(ok.tolist())
            bar.update(len(ok) + len(bad))
    finally:
        bar.close()
        computer.close()
        if hasattr(loader, "close"):
            loader.close()
    probs = np.concatenate(chunks) if chunks else np.zeros((0, len(classes)), dtype=np.float32)
    names = table.class_names
    true = [names[table.labels[r]] for r in rows] if names and (table.labels >= 0).all() else None
    return Predictions(
        checkpoint=checkpoint, class_names=classes, paths=[table.paths[r] for r in rows],
        labels=[classes[i] for i in probs.argmax(1)] if len(probs) else [], probs=probs.astype(np.float32),
        true_labels=true, failures=failures,
    )


def write_predictions_csv(predictions: Predictions, path: str) -> str:
    """``path,label[,true_label],prob_<class>...`` one row per image, written atomically."""
    path = os.fspath(path)
    header = ["path", "label"] + (["true_label"] if predictions.true_labels is not None else [])
    header += [f"prob_{c}" for c in predictions.class_names]
    truth = predictions.true_labels
    lines = ([row.path, row.label, *([truth[i]] if truth is not None else []), *(f"{p:.6f}" for p in row.probs)]
             for i, row in enumerate(predictions))
    return write_csv(path, [header, *lines])
