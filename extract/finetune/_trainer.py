"""A fine-tune from start to checkpoint: :func:`build_model` (backbone + new head + block groups)
and :func:`finetune`, which checks the settings, splits the data, reuses a finished output or
resumes a killed run, runs the :class:`~._loop.Trainer` with its policies as callbacks
(:mod:`._callbacks`) and writes the featx checkpoint (:class:`FinetuneResult`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from featx.common import remove_stale_tmp, to_jsonable
from featx.extract.models._backbones import build_backbone
from featx.extract.models._checkpoint import read_checkpoint, save_checkpoint
from featx.extract.runtime._compute import resolve_device, resolve_precision
from featx.extract.images._loading import draft_size, is_worker_death, worker_died
from featx.extract.cache._lock import FileLock
from featx.extract._preprocess import Preprocessing
from featx.extract.images._sources import SourceTable, open_source
from featx.extract.finetune import _data, _state
from featx.extract.finetune._callbacks import Callback, EarlyStopping, EpochLog, ResumeCheckpoint, Unfreezer
from featx.extract.finetune._config import FinetuneConfig, Strategy
from featx.extract.finetune._errors import FinetuneConfigError
from featx.extract.finetune._groups import BlockGroup, block_groups, replace_head
from featx.extract.finetune._loop import Trainer


@dataclass
class FinetuneModel:
    """A backbone with a new head for the target classes, split into block groups."""

    module: nn.Module
    head: str
    groups: list[BlockGroup]
    arch: dict  # {"source", "arch", "num_classes"}: what save_checkpoint stores
    preprocessing: Preprocessing
    start: dict  # provenance of the starting weights


@dataclass(frozen=True, eq=False)
class FinetuneResult:
    """What a fine-tune produced. ``history`` has one dict per epoch (1-based ``epoch``,
    ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``, ``unfrozen``, ``seconds``);
    ``train_rows``/``val_rows`` index the source's rows; ``module`` is the best model (eval mode)."""

    output: str
    model: str
    arch: dict
    strategy: str
    classes: list[str]
    history: list[dict]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    resumed_from: int
    seconds: float
    device: str
    train_rows: np.ndarray
    val_rows: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)
    reused: bool = False
    module: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def best(self) -> dict:
        return next((h for h in self.history if h["epoch"] == self.best_epoch), {})

    def line(self) -> str:
        best = self.best
        val = (f"val loss {best['val_loss']:.4f}, acc {best['val_acc']:.3f}" if best.get("val_loss") is not None
               else f"train loss {best.get('train_loss', float('nan')):.4f}, no validation split")
        if self.reused:
            return (f"{self.output} is already fine-tuned with these settings (best epoch {self.best_epoch}: {val}); "
                    "nothing to do (--overwrite trains again)")
        stop = " (early stop)" if self.stopped_early else ""
        resumed = f", resumed after epoch {self.resumed_from}" if self.resumed_from else ""
        skipped = f", {len(self.skipped)} image(s) skipped" if self.skipped else ""
        return (f"fine-tuned {self.model} [{self.strategy}] on {len(self.train_rows)} images ({len(self.val_rows)} for "
                f"validation): {self.epochs_run} epoch(s){stop}{resumed}{skipped}, best epoch {self.best_epoch} ({val}), "
                f"{_duration(self.seconds)} on {self.device} -> {self.output}")


def build_model(model: str, weights: str, num_classes: int, *, seed: int = 0, input_size: int | None = None) -> FinetuneModel:
    """The starting backbone (a registry name, timm:/torchvision: spec or featx checkpoint) with a
    new, seeded head of ``num_classes`` outputs."""
    backbone = build_backbone(model, weights)
    if backbone.spec.source == "checkpoint":
        base = backbone.checkpoint["arch"]
        source, arch = str(base.get("source")), str(base.get("arch"))
    else:
        source, arch = backbone.spec.source, backbone.spec.arch
    module = backbone.module
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_data.derive_seed(seed, 0))
        head = replace_head(module, num_classes)
    pre = backbone.preprocessing
    if input_size:
        pre = Preprocessing(crop_size=int(input_size), resize_size=max(int(input_size), round(input_size * pre.resize_size / pre.crop_size)),
                            interpolation=pre.interpolation, mean=pre.mean, std=pre.std)
    start = {"model": backbone.spec.name, "weights": backbone.weights, "weights_sha256": backbone.weights_sha256}
    return FinetuneModel(module, head, block_groups(module, head), {"source": source, "arch": arch, "num_classes": int(num_classes)},
                         pre, start)


def finetune(source, output, config: FinetuneConfig | None = None, *, rows=None, overwrite: bool = False,
             progress: bool = True, log=None, callbacks=None, **params) -> FinetuneResult:
    """Fine-tune a pretrained backbone on the labelled images of ``source`` and write a featx
    checkpoint to ``output`` (``featx extract --model OUTPUT`` taps any of its layers).

    ``source`` is a folder, a CSV manifest or a :class:`~featx.extract.SourceTable`; ``rows``
    restricts training (and its validation split) to those row indices, e.g. a pipeline's
    training split. Settings come from ``config`` and/or keyword ``params`` (the fields of
    :class:`FinetuneConfig`). A killed run resumes from its last finished epoch when called again
    with the same settings; a finished output with the same settings is returned as is.
    ``overwrite=True`` discards an existing output or resume state and starts again.

    ``callbacks``: your own :class:`~featx.extract.finetune.Callback` objects, called at every
    point (``on_train_begin``, ``on_epoch_begin``, ``on_epoch_end(row)``, ``on_train_end``) after
    the built-in ones, in the order given; setting ``trainer.stop_training = True`` ends training
    after the current epoch. They are not part of the settings' fingerprint: a run resumes (or a
    finished output is reused) whatever callbacks are passed.
    """
    user_callbacks = _check_callbacks(callbacks)
    job = _Job.plan(source, output, FinetuneConfig.from_params(config, **params), rows)
    say = log if log is not None else (_stderr if progress else _quiet)
    with FileLock(job.output):
        remove_stale_tmp(job.output)
        remove_stale_tmp(job.rpath)
        if overwrite and os.path.exists(job.rpath):
            os.unlink(job.rpath)
        if os.path.exists(job.output) and not overwrite:
            return _reuse(job)
        stopper = EarlyStopping(job.cfg.patience)
        trainer = _trainer(job, [Unfreezer(job.strategy, job.cfg.unfreeze_every), stopper,
                                 ResumeCheckpoint(job.rpath, fingerprint=job.fingerprint, arch=job.fm.arch,
                                                  train_rows=torch.as_tensor(job.train_rows),
                                                  val_rows=torch.as_tensor(job.val_rows)),
                                 EpochLog(say), *user_callbacks], progress, say)
        if os.path.exists(job.rpath):
            state = _state.read_state(job.rpath)
            _state.check_same("a resume state", job.rpath, state.get("fingerprint") or {}, job.fingerprint,
                              state.get("arch") or {}, job.fm.arch)
            trainer.load_state_dict(state)
            say(f"resuming {job.output} after epoch {trainer.epoch} of {job.cfg.epochs} (from {job.rpath})")
        say(f"fine-tuning {job.fm.start['model']} [{job.strategy}] on {len(job.train_rows)} images ({len(job.val_rows)} "
            f"validation), {len(job.table.class_names)} classes, {len(job.fm.groups)} block groups, {job.cfg.epochs} epochs, "
            f"device {job.dev}")
        with _worker_death_is_one_line(job.rpath, lambda: trainer.epoch):
            trainer.fit()
        return _write(job, trainer, stopper)


def _check_callbacks(callbacks) -> list[Callback]:
    """The user's callbacks as a list; one line naming the first that is not a Callback."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise FinetuneConfigError(f"callbacks[{i}] must be a featx.extract.finetune.Callback (subclass it and override "
                                      f"on_epoch_end etc.), got {type(cb).__name__}")
    return callbacks


@dataclass(frozen=True, eq=False)
class _Job:
    """What one :func:`finetune` call settled before taking the output's lock: the checked
    settings, the data split, the device, the starting model and the settings' fingerprint."""

    output: str
    rpath: str
    cfg: FinetuneConfig
    strategy: Strategy
    table: SourceTable
    train_rows: np.ndarray
    val_rows: np.ndarray
    dev: torch.device
    amp: torch.dtype | None
    fm: FinetuneModel
    fingerprint: dict

    @classmethod
    def plan(cls, source, output, cfg: FinetuneConfig, rows) -> "_Job":
        cfg.check()
        strategy = Strategy.parse(cfg.strategy)
        output = os.fspath(output)
        table = source if isinstance(source, SourceTable) else open_source(source)
        chosen = _data.training_rows(table, rows)
        train_rows, val_rows = _data.split_rows(table, chosen, cfg.val_fraction, cfg.seed)
        dev = resolve_device(cfg.device)
        amp = resolve_precision(cfg.precision, dev)
        fm = build_model(cfg.model, cfg.weights, len(table.class_names), seed=cfg.seed, input_size=cfg.input_size)
        strategy.check([g.name for g in fm.groups], f"{fm.arch['source']}:{fm.arch['arch']}")
        fingerprint = {**cfg.fingerprint(), "start_weights_sha256": fm.start["weights_sha256"],
                       "preprocessing": fm.preprocessing.to_dict(), "data": _data_identity(table, chosen)}
        return cls(output, _state.resume_path(output), cfg, strategy, table, train_rows, val_rows, dev, amp, fm, fingerprint)


@contextlib.contextmanager
def _worker_death_is_one_line(rpath: str, epochs_done):
    """A DataLoader worker killed mid-epoch (e.g. by the out-of-memory killer) ends the run with
    one clear line; the resume state of the last finished epoch is kept."""
    try:
        yield
    except RuntimeError as exc:
        if not is_worker_death(exc):
            raise
        done = epochs_done()
        kept = f"the state after epoch {done} is kept in {rpath}" if done else "no epoch had finished yet"
        raise worker_died(exc, kept, hint="lower --workers") from None


def _trainer(job: _Job, callbacks, progress: bool, log=None) -> Trainer:
    """The trainer over the job's training and validation rows."""
    table, cfg, pre = job.table, job.cfg, job.fm.preprocessing
    files = [table.absolute(int(i)) for i in range(len(table))]
    # JPEGs decode as extraction decodes them (draft mode keeping a 2x margin over the resize size)
    draft = draft_size(pre, True)
    train_ds = _data.ImageRows([files[r] for r in job.train_rows], table.labels[job.train_rows],
                               _data.train_transform(pre, cfg.augment), draft, seed=cfg.seed)
    val_ds = _data.ImageRows([files[r] for r in job.val_rows], table.labels[job.val_rows], pre.pil_transform(), draft)
    workers = cfg.workers if cfg.workers is not None else _data.default_workers(len(train_ds), cfg.batch_size, job.dev)
    return Trainer(job.fm.module, job.fm.groups, job.fm.head, cfg, train_ds, val_ds, pre=pre, dev=job.dev, amp=job.amp,
                   workers=workers, callbacks=callbacks, progress=progress, log=log,
                   key_parts={"arch": job.fm.arch, "start_weights_sha256": job.fm.start["weights_sha256"]})


def _write(job: _Job, trainer: Trainer, stopper: EarlyStopping) -> FinetuneResult:
    """The result of a finished training, saved as the featx checkpoint (then the resume state goes)."""
    result = FinetuneResult(
        output=job.output, model=job.fm.start["model"], arch=dict(job.fm.arch), strategy=str(job.strategy),
        classes=list(job.table.class_names), history=trainer.history,
        best_epoch=stopper.best_epoch or len(trainer.history), epochs_run=len(trainer.history),
        stopped_early=stopper.stopped, resumed_from=trainer.resumed_from, seconds=trainer.seconds, device=str(job.dev),
        train_rows=np.asarray(job.train_rows), val_rows=np.asarray(job.val_rows),
        skipped=sorted(trainer.skipped.items()), module=trainer.module,
    )
    save_checkpoint(job.output, trainer.module, arch=job.fm.arch, preprocessing=job.fm.preprocessing.to_dict(),
                    classes=job.table.class_names, history=to_jsonable(result.history, keep_nan=True), extra=to_jsonable(_extra(result, job), keep_nan=True))
    os.unlink(job.rpath)
    return result


def _reuse(job: _Job) -> FinetuneResult:
    """The finished output made with the same settings, as it is (its model loaded)."""
    ckpt = read_checkpoint(job.output)
    extra = ckpt.get("extra") or {}
    _state.check_same("a fine-tuned checkpoint", job.output, extra.get("fingerprint") or {}, job.fingerprint,
                      ckpt["arch"], job.fm.arch)
    if os.path.exists(job.rpath):
        os.unlink(job.rpath)  # the run finished after its last epoch state was written
    fm = job.fm
    fm.module.load_state_dict(ckpt["state_dict"])
    fm.module.eval()
    info = extra.get("finetune") or {}
    history = list(ckpt.get("history") or [])
    return FinetuneResult(
        output=job.output, model=fm.start["model"], arch=dict(ckpt["arch"]),
        strategy=str(info.get("strategy", job.cfg.strategy)), classes=list(ckpt.get("classes") or []), history=history,
        best_epoch=int(info.get("best_epoch", len(history))), epochs_run=int(info.get("epochs_run", len(history))),
        stopped_early=bool(info.get("stopped_early", False)), resumed_from=len(history),
        seconds=float(info.get("seconds", 0.0)), device=str(job.dev), train_rows=np.asarray(job.train_rows),
        val_rows=np.asarray(job.val_rows), skipped=[tuple(s) for s in info.get("skipped", [])], reused=True,
        module=fm.module,
    )


def _data_identity(table: SourceTable, rows: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([os.path.abspath(table.root), list(table.class_names)]).encode())
    for r in rows:
        h.update(f"{table.paths[r]}\0{int(table.labels[r])}\n".encode())
    return h.hexdigest()


def _extra(result: FinetuneResult, job: _Job) -> dict:
    return {
        "fingerprint": job.fingerprint,
        "finetune": {
            "start": dict(job.fm.start),
            "strategy": result.strategy,
            "head": job.fm.head,
            "block_groups": [g.name for g in job.fm.groups],
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early,
            "seconds": result.seconds,
            "device": result.device,
            "source": job.table.describe(),
            "train_rows": [int(r) for r in result.train_rows],
            "val_rows": [int(r) for r in result.val_rows],
            "skipped": [list(s) for s in result.skipped],
            "versions": {"torch": str(torch.__version__)},
        },
    }


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m{s:02d}s"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _quiet(line: str) -> None:
    pass
