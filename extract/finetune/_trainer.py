"""The fine-tuning loop: new head, strategy, epochs with validation, early stopping, resume.

Small steps, each replaceable: :func:`build_model` (backbone + new head + block groups),
:func:`train_epoch`, :func:`evaluate`, and :func:`finetune`, which strings them together around
the resume state and writes the featx checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from featx.extract._backbones import build_backbone
from featx.extract._checkpoint import read_checkpoint, save_checkpoint
from featx.extract._engine import draft_size, is_worker_death, resolve_device, resolve_precision, worker_died
from featx.extract._lock import FileLock
from featx.extract._preprocess import Preprocessing
from featx.extract._sources import SourceTable, open_source
from featx.extract.finetune import _data, _optim, _state
from featx.extract.finetune._config import FinetuneConfig, Strategy
from featx.extract.finetune._errors import FinetuneDataError
from featx.extract.finetune._groups import BlockGroup, Freezer, block_groups, replace_head


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
             progress: bool = True, log=None, **params) -> FinetuneResult:
    """Fine-tune a pretrained backbone on the labelled images of ``source`` and write a featx
    checkpoint to ``output`` (``featx extract --model OUTPUT`` taps any of its layers).

    ``source`` is a folder, a CSV manifest or a :class:`~featx.extract.SourceTable`; ``rows``
    restricts training (and its validation split) to those row indices, e.g. a pipeline's
    training split. Settings come from ``config`` and/or keyword ``params`` (the fields of
    :class:`FinetuneConfig`). A killed run resumes from its last finished epoch when called again
    with the same settings; a finished output with the same settings is returned as is.
    ``overwrite=True`` discards an existing output or resume state and starts again.
    """
    cfg = FinetuneConfig.from_params(config, **params)
    cfg.check()
    strategy = Strategy.parse(cfg.strategy)
    output = os.fspath(output)
    say = log if log is not None else (_stderr if progress else _quiet)
    table = source if isinstance(source, SourceTable) else open_source(source)
    chosen = _data.training_rows(table, rows)
    train_rows, val_rows = _data.split_rows(table, chosen, cfg.val_fraction, cfg.seed)
    dev = resolve_device(cfg.device)
    amp = resolve_precision(cfg.precision, dev)
    fm = build_model(cfg.model, cfg.weights, len(table.class_names), seed=cfg.seed, input_size=cfg.input_size)
    strategy.check([g.name for g in fm.groups], f"{fm.arch['source']}:{fm.arch['arch']}")
    fingerprint = {**cfg.fingerprint(), "start_weights_sha256": fm.start["weights_sha256"],
                   "preprocessing": fm.preprocessing.to_dict(), "data": _data_identity(table, chosen)}
    rpath = _state.resume_path(output)

    with FileLock(output):
        _state.remove_stale(output)
        _state.remove_stale(rpath)
        if overwrite and os.path.exists(rpath):
            os.unlink(rpath)
        if os.path.exists(output) and not overwrite:
            ckpt = read_checkpoint(output)
            extra = ckpt.get("extra") or {}
            _state.check_same("a fine-tuned checkpoint", output, extra.get("fingerprint") or {}, fingerprint,
                              ckpt["arch"], fm.arch)
            if os.path.exists(rpath):
                os.unlink(rpath)  # the run finished after its last epoch state was written
            fm.module.load_state_dict(ckpt["state_dict"])
            return _result_from_checkpoint(output, ckpt, cfg, fm, train_rows, val_rows, dev)
        state = None
        if os.path.exists(rpath):
            state = _state.read_state(rpath)
            _state.check_same("a resume state", rpath, state.get("fingerprint") or {}, fingerprint, state.get("arch") or {}, fm.arch)
        return _fit(table, train_rows, val_rows, cfg, strategy, fm, dev, amp, fingerprint, state, output, rpath,
                    progress, say)


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


def _fit(table, train_rows, val_rows, cfg, strategy, fm, dev, amp, fingerprint, state, output, rpath, progress, say):
    module = fm.module.to(dev)
    pre = fm.preprocessing
    files = [table.absolute(int(i)) for i in range(len(table))]
    # JPEGs decode as extraction decodes them (draft mode keeping a 2x margin over the resize size)
    draft = draft_size(pre, True)
    train_ds = _data.ImageRows([files[r] for r in train_rows], table.labels[train_rows],
                               _data.train_transform(pre, cfg.augment), draft, seed=cfg.seed)
    val_ds = _data.ImageRows([files[r] for r in val_rows], table.labels[val_rows], pre.pil_transform(), draft)
    workers = cfg.workers if cfg.workers is not None else _data.default_workers(len(train_ds), cfg.batch_size)
    steps_per_epoch = len(_data.epoch_batches(len(train_ds), cfg.batch_size, None, 0))
    total_steps = cfg.epochs * steps_per_epoch
    warmup_steps = round(cfg.warmup * steps_per_epoch)

    freezer = Freezer(module, fm.groups, fm.head, bn_stats=cfg.bn_stats_train)
    optimizer = _optim.make_optimizer(_optim.param_groups(module, fm.groups, fm.head, cfg), cfg)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp == torch.float16)
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    history: list[dict] = []
    best: dict | None = None
    bad_epochs, start_epoch, seconds_before, stopped_early = 0, 0, 0.0, False
    skipped: dict[str, str] = {}
    if state is not None:
        module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler.is_enabled() and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        history = list(state["history"])
        best = state.get("best")
        bad_epochs = int(state["bad_epochs"])
        start_epoch = int(state["epoch"])
        seconds_before = float(state["seconds"])
        stopped_early = bool(state["stopped_early"])
        skipped = dict(state.get("skipped") or {})
        say(f"resuming {output} after epoch {start_epoch} of {cfg.epochs} (from {rpath})")
    n_groups = len(fm.groups)
    say(f"fine-tuning {fm.start['model']} [{strategy}] on {len(train_rows)} images ({len(val_rows)} validation), "
        f"{len(table.class_names)} classes, {n_groups} block groups, {cfg.epochs} epochs, device {dev}")

    t_run = time.perf_counter()
    rng_devices = [dev.index or 0] if dev.type == "cuda" else []
    epoch = start_epoch
    with torch.random.fork_rng(devices=rng_devices), _worker_death_is_one_line(rpath, lambda: epoch):
        while epoch < cfg.epochs and not stopped_early:
            t_epoch = time.perf_counter()
            n_unfrozen = strategy.unfrozen(epoch, n_groups, cfg.unfreeze_every)
            if epoch > 0 and n_unfrozen != strategy.unfrozen(epoch - 1, n_groups, cfg.unfreeze_every):
                bad_epochs = 0  # a new stage of gradual unfreezing gets its own patience
            freezer.set_trainable(n_unfrozen)
            torch.manual_seed(_data.derive_seed(cfg.seed, epoch, 3))  # dropout, drop-path
            train_ds.epoch = epoch
            batches = _data.epoch_batches(len(train_ds), cfg.batch_size, cfg.seed, epoch)
            loader = _data.make_loader(train_ds, batches, workers, dev.type == "cuda")
            mix_rng = np.random.default_rng(_data.derive_seed(cfg.seed, epoch, 4))
            bar = _bar(len(batches), f"epoch {epoch + 1}/{cfg.epochs}", progress)
            try:
                tr = train_epoch(module, freezer, loader, optimizer, scaler, criterion, dev, amp, pre,
                                 step=epoch * steps_per_epoch, total_steps=total_steps, warmup_steps=warmup_steps,
                                 mixup=cfg.mixup, mix_rng=mix_rng, on_batch=bar.update)
            finally:
                bar.close()
            va = None
            if len(val_ds):
                val_loader = _data.make_loader(val_ds, _data.epoch_batches(len(val_ds), cfg.batch_size, None, 0),
                                               workers, dev.type == "cuda")
                va = evaluate(module, val_loader, dev, amp, pre)
            for pos, reason in tr["failed"]:
                skipped.setdefault(str(train_ds.files[pos]), reason)
            for pos, reason in (va or {}).get("failed", []):
                skipped.setdefault(str(val_ds.files[pos]), reason)
            if tr["images"] == 0:
                raise FinetuneDataError(f"none of the {len(train_ds)} training images could be decoded; check the source")
            improved = best is None or va is None or va["loss"] < best["val_loss"] - 1e-7
            if improved:
                best = {"epoch": epoch + 1, "val_loss": va["loss"] if va else None,
                        "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}}
                bad_epochs = 0
            else:
                bad_epochs += 1
            stopped_early = bool(va and cfg.patience and bad_epochs >= cfg.patience and epoch + 1 < cfg.epochs)
            row = {"epoch": epoch + 1, "train_loss": tr["loss"], "train_acc": tr["acc"],
                   "val_loss": va["loss"] if va else None, "val_acc": va["acc"] if va else None,
                   "lr": optimizer.param_groups[-1]["lr"], "unfrozen": n_unfrozen, "improved": improved,
                   "seconds": time.perf_counter() - t_epoch}
            history.append(row)
            epoch += 1
            seconds = seconds_before + (time.perf_counter() - t_run)
            _state.write_state(rpath, {
                "fingerprint": fingerprint, "arch": fm.arch, "epoch": epoch, "model": module.state_dict(),
                "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                "best": best, "bad_epochs": bad_epochs, "stopped_early": stopped_early, "history": history,
                "seconds": seconds, "skipped": skipped,
                "train_rows": torch.as_tensor(train_rows), "val_rows": torch.as_tensor(val_rows),
            })
            say(_epoch_line(row, cfg.epochs, n_groups) + ("  (early stop)" if stopped_early else ""))

    seconds = seconds_before + (time.perf_counter() - t_run)
    module.load_state_dict(best["state_dict"] if best else module.state_dict())
    module.eval()
    result = FinetuneResult(
        output=output, model=fm.start["model"], arch=dict(fm.arch), strategy=str(strategy),
        classes=list(table.class_names), history=history, best_epoch=int(best["epoch"]) if best else len(history),
        epochs_run=len(history), stopped_early=stopped_early, resumed_from=start_epoch, seconds=seconds,
        device=str(dev), train_rows=np.asarray(train_rows), val_rows=np.asarray(val_rows),
        skipped=sorted(skipped.items()), module=module,
    )
    save_checkpoint(output, module, arch=fm.arch, preprocessing=pre.to_dict(), classes=table.class_names,
                    history=_plain(history), extra=_plain(_extra(result, cfg, fm, table, fingerprint)))
    os.unlink(rpath)
    return result


def train_epoch(module, freezer: Freezer, loader, optimizer, scaler, criterion, dev, amp, pre, *, step: int,
                total_steps: int, warmup_steps: int, mixup: float = 0.0, mix_rng=None, on_batch=None) -> dict:
    """One pass over ``loader``; returns mean loss, accuracy, images seen and failed positions."""
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
        x = pre.normalize(images.to(dev, non_blocking=True))
        y = labels.to(dev, non_blocking=True)
        lam, perm = 1.0, None
        if mixup > 0:
            lam = float(mix_rng.beta(mixup, mixup))
            perm = torch.as_tensor(mix_rng.permutation(len(x)), device=dev)
            x = lam * x + (1.0 - lam) * x[perm]
        with torch.autocast(device_type=dev.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = module(x)
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
def evaluate(module, loader, dev, amp, pre) -> dict:
    """Plain cross-entropy (no smoothing) and accuracy of ``module`` in eval mode."""
    module.eval()
    loss_sum, correct, seen, failed = 0.0, 0, 0, []
    for images, labels, bad in loader:
        failed.extend(bad)
        if images is None:
            continue
        x = pre.normalize(images.to(dev, non_blocking=True))
        y = labels.to(dev, non_blocking=True)
        with torch.autocast(device_type=dev.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = module(x)
        loss_sum += float(nn.functional.cross_entropy(logits.float(), y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        seen += len(x)
    return {"loss": loss_sum / max(seen, 1), "acc": correct / max(seen, 1), "images": seen, "failed": failed}


def _data_identity(table: SourceTable, rows: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([os.path.abspath(table.root), list(table.class_names)]).encode())
    for r in rows:
        h.update(f"{table.paths[r]}\0{int(table.labels[r])}\n".encode())
    return h.hexdigest()


def _extra(result: FinetuneResult, cfg: FinetuneConfig, fm: FinetuneModel, table: SourceTable, fingerprint: dict) -> dict:
    return {
        "fingerprint": fingerprint,
        "finetune": {
            "start": dict(fm.start),
            "strategy": result.strategy,
            "head": fm.head,
            "block_groups": [g.name for g in fm.groups],
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early,
            "seconds": result.seconds,
            "device": result.device,
            "source": table.describe(),
            "train_rows": [int(r) for r in result.train_rows],
            "val_rows": [int(r) for r in result.val_rows],
            "skipped": [list(s) for s in result.skipped],
            "versions": {"torch": str(torch.__version__)},
        },
    }


def _result_from_checkpoint(output, ckpt, cfg, fm, train_rows, val_rows, dev) -> FinetuneResult:
    info = (ckpt.get("extra") or {}).get("finetune") or {}
    history = list(ckpt.get("history") or [])
    fm.module.eval()
    return FinetuneResult(
        output=output, model=fm.start["model"], arch=dict(ckpt["arch"]), strategy=str(info.get("strategy", cfg.strategy)),
        classes=list(ckpt.get("classes") or []), history=history, best_epoch=int(info.get("best_epoch", len(history))),
        epochs_run=int(info.get("epochs_run", len(history))), stopped_early=bool(info.get("stopped_early", False)),
        resumed_from=len(history), seconds=float(info.get("seconds", 0.0)), device=str(dev),
        train_rows=np.asarray(train_rows), val_rows=np.asarray(val_rows),
        skipped=[tuple(s) for s in info.get("skipped", [])], reused=True, module=fm.module,
    )


def _plain(obj):
    """Plain Python containers and scalars only (what ``torch.load(weights_only=True)`` reads)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (bool, type(None))):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    return str(obj)


def _epoch_line(row: dict, epochs: int, n_groups: int) -> str:
    width = len(str(epochs))
    val = (f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.3f}" if row["val_loss"] is not None else "no validation")
    mark = "  *" if row["improved"] else ""
    return (f"epoch {row['epoch']:>{width}}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.3f} | "
            f"{val} | lr {row['lr']:.1e} | {row['unfrozen']}/{n_groups} groups | {row['seconds']:.1f}s{mark}")


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, disable=None if progress else True, dynamic_ncols=True)


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
