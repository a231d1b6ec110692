"""The epoch loop of a fine-tune: :class:`Trainer` and its steps, :func:`train_epoch` and :func:`evaluate`.

The trainer owns what changes while training (the module, optimizer, gradient scaler, history,
epoch count) and runs small steps: :meth:`Trainer.fit` -> :meth:`Trainer.fit_epoch` ->
:meth:`Trainer.train` / :meth:`Trainer.validate`. Policies (unfreezing, early stopping, the
resume state, the log) are callbacks (:mod:`._callbacks`), called in the order given.
:meth:`Trainer.state_dict` / :meth:`Trainer.load_state_dict` hold everything a resumed run needs.

Randomness needs no saved state: every epoch reseeds torch from (seed, epoch) and draws mixup
from a generator of its own, and batches and augmentation are functions of (seed, epoch, image).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from featx.extract.finetune import _data, _optim
from featx.extract.finetune._errors import FinetuneDataError
from featx.extract.finetune._frozen import FrozenPrefix
from featx.extract.finetune._groups import Freezer
from featx.common.progress import progress_bar


class Trainer:
    """Fine-tunes ``module`` on ``train_ds`` (an :class:`~._data.ImageRows`), validating on
    ``val_ds`` after each epoch, for ``cfg.epochs`` epochs or until a callback sets
    ``stop_training``. ``groups`` and ``head`` split the module for freezing and per-group
    learning rates; ``pre`` normalises batches; ``amp`` is the autocast dtype (None: fp32)."""

    def __init__(self, module: nn.Module, groups, head: str, cfg, train_ds, val_ds, *, pre, dev: torch.device,
                 amp, workers: int, callbacks=(), progress: bool = True, log=None, key_parts: dict | None = None,
                 cache_prefix: bool = True):
        self.module = module.to(dev)
        self.cfg, self.pre, self.dev, self.amp, self.workers = cfg, pre, dev, amp, workers
        self.train_ds, self.val_ds = train_ds, val_ds
        self.callbacks = list(callbacks)
        self.progress = progress
        self.freezer = Freezer(self.module, groups, head, bn_stats=cfg.bn_stats_train)
        # the frozen layers' runtime (see ._frozen); 'torch' is the whole module in eager torch
        self.frozen = FrozenPrefix(self.module, self.freezer, getattr(cfg, "frozen_runtime", "torch"), dev, pre,
                                   key_parts or {}, log=log, cache=cache_prefix)
        self.optimizer = _optim.make_optimizer(_optim.param_groups(self.module, groups, head, cfg), cfg)
        self.scaler = torch.amp.GradScaler(dev.type, enabled=amp == torch.float16)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.steps_per_epoch = len(_data.epoch_batches(len(train_ds), cfg.batch_size, None, 0))
        self.epochs = cfg.epochs
        self.epoch = 0  # epochs finished
        self.history: list[dict] = []
        self.skipped: dict[str, str] = {}  # file -> why it could not be decoded
        self.stop_training = False
        self.resumed_from = 0
        self._seconds_before, self._t_start = 0.0, None

    @property
    def seconds(self) -> float:
        """Training time so far, over every run that resumed this one."""
        running = time.perf_counter() - self._t_start if self._t_start is not None else 0.0
        return self._seconds_before + running

    # -- the resume state -----------------------------------------------------------------------

    def state_dict(self) -> dict:
        state = {"epoch": self.epoch, "model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {}, "history": self.history,
                 "seconds": self.seconds, "skipped": self.skipped}
        for cb in self.callbacks:
            state.update(cb.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler.is_enabled() and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.history = list(state["history"])
        self.epoch = self.resumed_from = int(state["epoch"])
        self._seconds_before = float(state["seconds"])
        self.skipped = dict(state.get("skipped") or {})
        for cb in self.callbacks:
            cb.load_state_dict(state)

    # -- the steps ------------------------------------------------------------------------------

    def fit(self) -> "Trainer":
        """Train the remaining epochs; the module ends in eval mode."""
        self._t_start = time.perf_counter()
        rng_devices = [self.dev.index or 0] if self.dev.type == "cuda" else []
        for cb in self.callbacks:
            cb.on_train_begin(self)
        with torch.random.fork_rng(devices=rng_devices):
            while self.epoch < self.epochs and not self.stop_training:
                self.fit_epoch()
        for cb in self.callbacks:
            cb.on_train_end(self)
        self._seconds_before, self._t_start = self.seconds, None
        self.module.eval()
        return self

    def fit_epoch(self) -> dict:
        """One epoch: callbacks' ``on_epoch_begin``, train, validate, record the history row,
        callbacks' ``on_epoch_end``. Returns the row."""
        t_epoch = time.perf_counter()
        epoch = self.epoch
        for cb in self.callbacks:
            cb.on_epoch_begin(self, epoch)
        self.frozen.update()  # a new stage of unfreezing has a prefix of its own
        torch.manual_seed(_data.derive_seed(self.cfg.seed, epoch, 3))  # dropout, drop-path
        tr = self.train(epoch)
        va = self.validate()
        self._note_failures(self.train_ds, tr)
        self._note_failures(self.val_ds, va)
        if tr["images"] == 0:
            raise FinetuneDataError(f"none of the {len(self.train_ds)} training images could be decoded; check the source")
        row = {"epoch": epoch + 1, "train_loss": tr["loss"], "train_acc": tr["acc"],
               "val_loss": va["loss"] if va else None, "val_acc": va["acc"] if va else None,
               "lr": self.optimizer.param_groups[-1]["lr"], "unfrozen": self.freezer.n_trainable,
               "seconds": time.perf_counter() - t_epoch}
        self.history.append(row)
        self.epoch = epoch + 1
        for cb in self.callbacks:
            cb.on_epoch_end(self, row)
        return row

    def train(self, epoch: int) -> dict:
        """One pass over the training images in the seeded batches of ``epoch``."""
        cfg = self.cfg
        self.train_ds.epoch = epoch
        batches = _data.epoch_batches(len(self.train_ds), cfg.batch_size, cfg.seed, epoch)
        encode = forward = None
        if self.frozen.on and not cfg.augment and not cfg.mixup and self._cacheable(self.train_ds):
            # nothing random before the model: the prefix ran once for every training image
            loader = self.frozen.cached_batches(self.train_ds, batches, self.workers, self.progress, "frozen layers (train)")
            encode, forward = (lambda f: f), self.frozen.suffix
        else:
            loader = _data.make_loader(self.train_ds, batches, self.workers, self.dev.type == "cuda")
            if self.frozen.on:
                forward = self.frozen.forward
        mix_rng = np.random.default_rng(_data.derive_seed(cfg.seed, epoch, 4))
        bar = _bar(len(batches), f"epoch {epoch + 1}/{self.epochs}", self.progress)
        try:
            return train_epoch(self.module, self.freezer, loader, self.optimizer, self.scaler, self.criterion, self.dev,
                               self.amp, self.pre, step=epoch * self.steps_per_epoch,
                               total_steps=self.epochs * self.steps_per_epoch,
                               warmup_steps=round(cfg.warmup * self.steps_per_epoch), mixup=cfg.mixup,
                               mix_rng=mix_rng, on_batch=bar.update, encode=encode, forward=forward)
        finally:
            bar.close()

    def validate(self) -> dict | None:
        """Loss and accuracy on the validation images (None without a validation split)."""
        if not len(self.val_ds):
            return None
        batches = _data.epoch_batches(len(self.val_ds), self.cfg.batch_size, None, 0)
        if self.frozen.on and self._cacheable(self.val_ds):  # validation images are never augmented
            loader = self.frozen.cached_batches(self.val_ds, batches, self.workers, self.progress, "frozen layers (val)")
            return evaluate(self.module, loader, self.dev, self.amp, self.pre, encode=lambda f: f,
                            forward=self.frozen.suffix)
        loader = _data.make_loader(self.val_ds, batches, self.workers, self.dev.type == "cuda")
        return evaluate(self.module, loader, self.dev, self.amp, self.pre,
                        forward=self.frozen.forward if self.frozen.on else None)

    def _cacheable(self, dataset) -> bool:
        return self.frozen.cacheable(4 * int(np.prod(self.frozen.split.shape)), len(dataset))

    def _note_failures(self, dataset, stats: dict | None) -> None:
        for pos, reason in (stats or {}).get("failed", []):
            self.skipped.setdefault(str(dataset.files[pos]), reason)


def train_epoch(module, freezer: Freezer, loader, optimizer, scaler, criterion, dev, amp, pre, *, step: int,
                total_steps: int, warmup_steps: int, mixup: float = 0.0, mix_rng=None, on_batch=None, encode=None,
                forward=None) -> dict:
    """One pass over ``loader``; returns mean loss, accuracy, images seen and failed positions.
    ``encode`` turns a loader batch into the model's input (default: normalised images on the
    device) and ``forward`` the input into logits (default: ``module``), e.g. the suffix of a
    frozen prefix fed its cached outputs."""
    freezer.train()
    loss_sum, correct, seen, failed = 0.0, 0.0, 0, []
    for images, labels, bad in loader:
        failed.extend(bad)
        _optim.set_lr(optimizer, _optim.lr_factor(step, total_steps, warmup_steps))
        step += 1  # the schedule advances per batch slot, so a skipped batch does not shift it
        if on_batch:
            on_batch(1)
        if images is None or len(images) < 2:
            continue
        x = encode(images) if encode else pre.normalize(images.to(dev, non_blocking=True))
        y = labels.to(dev, non_blocking=True)
        lam, perm = 1.0, None
        if mixup > 0:
            lam = float(mix_rng.beta(mixup, mixup))
            perm = torch.as_tensor(mix_rng.permutation(len(x)), device=dev)
            x = lam * x + (1.0 - lam) * x[perm]
        with torch.autocast(device_type=dev.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = forward(x) if forward else module(x)
            loss = criterion(logits, y)
            if perm is not None:
                loss = lam * loss + (1.0 - lam) * criterion(logits, y[perm])
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        pred = logits.detach().argmax(1)
        hits = (pred == y).float()
        if perm is not None:
            hits = lam * hits + (1.0 - lam) * (pred == y[perm]).float()
        loss_sum += float(loss.detach()) * len(x)
        correct += float(hits.sum())
        seen += len(x)
    return {"loss": loss_sum / max(seen, 1), "acc": correct / max(seen, 1), "images": seen, "failed": failed}


@torch.no_grad()
def evaluate(module, loader, dev, amp, pre, *, encode=None, forward=None) -> dict:
    """Plain cross-entropy (no smoothing) and accuracy of ``module`` in eval mode (``encode``,
    ``forward``: as :func:`train_epoch` takes them)."""
    module.eval()
    loss_sum, correct, seen, failed = 0.0, 0, 0, []
    for images, labels, bad in loader:
        failed.extend(bad)
        if images is None:
            continue
        x = encode(images) if encode else pre.normalize(images.to(dev, non_blocking=True))
        y = labels.to(dev, non_blocking=True)
        with torch.autocast(device_type=dev.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = forward(x) if forward else module(x)
        loss_sum += float(nn.functional.cross_entropy(logits.float(), y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        seen += len(x)
    return {"loss": loss_sum / max(seen, 1), "acc": correct / max(seen, 1), "images": seen, "failed": failed}


def _bar(total: int, desc: str, progress: bool):
    return progress_bar(total, desc, progress, unit="batch", leave=False)
