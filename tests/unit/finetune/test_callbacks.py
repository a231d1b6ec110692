"""The trainer's policies, one callback at a time, on a real (random-weight, 32-pixel) model and
tiny colour images: Unfreezer, EarlyStopping, ResumeCheckpoint, EpochLog."""

import glob

import pytest
import torch

from featx.extract.finetune import (
    Callback,
    EarlyStopping,
    EpochLog,
    FinetuneConfig,
    ResumeCheckpoint,
    Strategy,
    Trainer,
    Unfreezer,
    finetune,
    resume_path,
)
from featx.extract.finetune._state import read_state
from featx.extract.finetune._trainer import _Job, _trainer
from helpers.ft_support import TINY, Interrupt, colours8, one_thread, stop_after  # noqa: F401  (fixtures)

CFG = {k: v for k, v in TINY.items() if k != "progress"}


def _make(src, out, callbacks=(), **kw) -> Trainer:
    job = _Job.plan(src, out, FinetuneConfig(**{**CFG, **kw}), None)
    return _trainer(job, list(callbacks), progress=False)


def _copy(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)


class Recorder(Callback):
    """The weights at the end of every epoch (a callback like any other, listed last)."""

    def __init__(self):
        self.weights = []

    def on_epoch_end(self, trainer, row):
        self.weights.append(_copy(trainer.module))


def _requires_grad(trainer) -> list[bool]:
    """Per block group (bottom to top): do its parameters train?"""
    params = dict(trainer.module.named_parameters())
    out = []
    for g in trainer.freezer.groups:
        flags = {params[k].requires_grad for k in g.keys if k in params}
        assert len(flags) == 1, g.name  # a group is frozen or trains as a whole
        out.append(flags.pop())
    return out


# -- Unfreezer --------------------------------------------------------------------------------------


def test_unfreezer_opens_one_group_from_the_top_per_stage(colours8, tmp_path):
    trainer = _make(colours8, tmp_path / "m.pt")
    n = len(trainer.freezer.groups)
    assert n == 8
    unfreezer = Unfreezer("gradual:3", unfreeze_every=2)
    seen = []
    for epoch in range(9):
        unfreezer.on_epoch_begin(trainer, epoch)
        flags = _requires_grad(trainer)
        seen.append(trainer.freezer.n_trainable)
        k = trainer.freezer.n_trainable
        assert flags == [False] * (n - k) + [True] * k, (epoch, flags)
        assert trainer.module.classifier.weight.requires_grad  # the head always trains
    assert seen == [0, 0, 1, 1, 2, 2, 3, 3, 3]  # at most K=3 groups, every 2 epochs


@pytest.mark.parametrize("strategy,expected", [("head", 0), ("partial:2", 2), ("full", 8)])
def test_unfreezer_fixed_strategies(colours8, tmp_path, strategy, expected):
    trainer = _make(colours8, tmp_path / "m.pt")
    unfreezer = Unfreezer(Strategy.parse(strategy))
    for epoch in (0, 5):
        unfreezer.on_epoch_begin(trainer, epoch)
        assert _requires_grad(trainer) == [False] * (8 - expected) + [True] * expected


def test_unfreezer_in_training_freezes_the_lower_groups_bitwise(colours8, tmp_path):
    rec = Recorder()
    trainer = _make(colours8, tmp_path / "m.pt", [Unfreezer("gradual", 1), rec], epochs=3, val_fraction=0)
    start = _copy(trainer.module)
    trainer.fit()
    assert [h["unfrozen"] for h in trainer.history] == [0, 1, 2]
    groups = trainer.freezer.groups
    for epoch, weights in enumerate(rec.weights):  # in 0-based epoch e the top e groups train
        frozen = [k for g in groups[: len(groups) - epoch] for k in g.keys]
        assert all(torch.equal(start[k], weights[k]) for k in frozen), epoch
        if epoch:
            opened = [k for k in groups[len(groups) - epoch].keys if k.endswith("weight")]
            assert any(not torch.equal(start[k], weights[k]) for k in opened), epoch


# -- EarlyStopping --------------------------------------------------------------------------------------


def _row(epoch, val_loss, unfrozen=0):
    return {"epoch": epoch, "train_loss": 1.0, "train_acc": 0.5, "val_loss": val_loss, "val_acc": 0.5, "lr": 1e-3,
            "unfrozen": unfrozen, "seconds": 0.0}


def _feed(trainer, stopper, losses, unfrozen=None):
    """Epochs with the given validation losses; the weights change every epoch."""
    snapshots = []
    for i, loss in enumerate(losses):
        trainer.freezer.n_trainable = unfrozen[i] if unfrozen else 0
        stopper.on_epoch_begin(trainer, i)
        with torch.no_grad():
            trainer.module.classifier.bias.add_(1.0)
        row = _row(i + 1, loss, trainer.freezer.n_trainable)
        trainer.history.append(row)
        trainer.epoch = i + 1
        stopper.on_epoch_end(trainer, row)
        snapshots.append(_copy(trainer.module))
        if trainer.stop_training:
            break
    return snapshots


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience(colours8, tmp_path):
    trainer = _make(colours8, tmp_path / "m.pt", epochs=10)
    stopper = EarlyStopping(patience=2)
    snaps = _feed(trainer, stopper, [1.0, 0.8, 0.9, 0.8, 0.85, 0.1])
    assert [h["improved"] for h in trainer.history] == [True, True, False, False]  # 0.8 again is no gain
    assert stopper.stopped and trainer.stop_training and len(snaps) == 4
    assert stopper.best_epoch == 2 and stopper.bad_epochs == 2
    assert _same(stopper.best["state_dict"], snaps[1])
    assert all(v.device.type == "cpu" for v in stopper.best["state_dict"].values())
    stopper.on_train_end(trainer)
    assert _same(_copy(trainer.module), snaps[1]) and not _same(snaps[1], snaps[3])


def test_early_stopping_edges(colours8, tmp_path):
    trainer = _make(colours8, tmp_path / "m.pt", epochs=3)
    stopper = EarlyStopping(patience=2)
    _feed(trainer, stopper, [1.0, 1.0 - 1e-8, 2.0])  # below min_delta; the last epoch never "stops early"
    assert [h["improved"] for h in trainer.history] == [True, False, False]
    assert not stopper.stopped and not trainer.stop_training and stopper.best_epoch == 1

    trainer = _make(colours8, tmp_path / "n.pt", epochs=5)
    off = EarlyStopping(patience=0)
    _feed(trainer, off, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert len(trainer.history) == 5 and not off.stopped and off.best_epoch == 1

    trainer = _make(colours8, tmp_path / "o.pt", epochs=4)
    noval = EarlyStopping(patience=1)
    _feed(trainer, noval, [None] * 4)  # no validation split: every epoch is the best, never a stop
    assert all(h["improved"] for h in trainer.history) and noval.best_epoch == 4 and not noval.stopped


def test_a_new_unfreezing_stage_gets_its_own_patience(colours8, tmp_path):
    trainer = _make(colours8, tmp_path / "m.pt", epochs=10)
    stopper = EarlyStopping(patience=2)
    _feed(trainer, stopper, [1.0, 2.0, 2.0, 2.0, 2.0], unfrozen=[0, 0, 1, 1, 1])
    # epoch 2 is bad; epoch 3 opens a group, so patience restarts: stop after epoch 4, not 3
    assert len(trainer.history) == 4 and stopper.stopped and stopper.best_epoch == 1


def test_early_stopping_state_round_trip(colours8, tmp_path):
    trainer = _make(colours8, tmp_path / "m.pt", epochs=10)
    stopper = EarlyStopping(patience=1)
    _feed(trainer, stopper, [1.0, 2.0])
    assert stopper.stopped
    again = EarlyStopping(patience=1)
    again.load_state_dict(stopper.state_dict())
    assert (again.best_epoch, again.bad_epochs, again.stopped) == (1, 1, True)
    fresh = _make(colours8, tmp_path / "n.pt", epochs=10)
    again.on_train_begin(fresh)  # a state written after the stopping epoch: nothing more to train
    assert fresh.stop_training


def test_early_stopping_in_training_returns_the_best_weights(colours8, tmp_path):
    rec = Recorder()
    stopper = EarlyStopping(patience=1)
    trainer = _make(colours8, tmp_path / "m.pt", [Unfreezer("head"), stopper, rec], epochs=8, lr=0.5)
    trainer.fit()
    assert stopper.stopped and len(trainer.history) < 8
    best = min(trainer.history, key=lambda h: h["val_loss"])["epoch"]
    assert stopper.best_epoch == best and trainer.history[-1]["improved"] is False
    assert _same(_copy(trainer.module), rec.weights[best - 1])
    assert not trainer.module.training


# -- ResumeCheckpoint, resuming ------------------------------------------------------------------------------


def test_resume_checkpoint_writes_every_epoch_atomically(colours8, tmp_path):
    rpath = str(tmp_path / "m.pt.resume")
    epochs_on_disk = []

    class Probe(Callback):
        def on_epoch_end(self, trainer, row):
            epochs_on_disk.append(read_state(rpath)["epoch"])

    stopper, rec = EarlyStopping(patience=3), Recorder()
    trainer = _make(colours8, tmp_path / "m.pt", [Unfreezer("head"), stopper, rec,
                                                  ResumeCheckpoint(rpath, fingerprint={"x": 1}, arch={"arch": "a"}), Probe()],
                    epochs=3)
    trainer.fit()
    assert epochs_on_disk == [1, 2, 3]
    state = read_state(rpath)  # weights_only=True
    assert state["fingerprint"] == {"x": 1} and state["arch"] == {"arch": "a"}
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3] and state["history"] == trainer.history
    assert state["best"]["epoch"] == stopper.best_epoch and state["bad_epochs"] == stopper.bad_epochs
    assert state["stopped_early"] is False
    assert _same(state["model"], rec.weights[-1])  # the last epoch's weights, not the best ones
    assert not glob.glob(rpath + ".tmp-*")


@pytest.mark.parametrize("stop_at", [2, 3])
def test_resumed_early_stopping_run_is_bitwise_the_uninterrupted_one(colours8, tmp_path, stop_at):
    """Gradual unfreezing with early stopping: the stage reset and the patience counter survive."""
    params = dict(strategy="gradual", unfreeze_every=2, epochs=8, patience=2, lr=5.0, **TINY)
    clean = finetune(colours8, tmp_path / "clean.pt", **params)
    assert clean.stopped_early and clean.epochs_run == 4  # without the stage reset it would stop after 3

    out = tmp_path / "resumed.pt"
    with pytest.raises(Interrupt):
        finetune(colours8, out, log=stop_after(stop_at), **params)
    state = read_state(resume_path(str(out)))
    assert state["epoch"] == stop_at
    resumed = finetune(colours8, out, **params)
    assert resumed.resumed_from == stop_at
    assert (resumed.best_epoch, resumed.stopped_early, resumed.epochs_run) == (clean.best_epoch, True, 4)
    strip = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]  # noqa: E731
    assert strip(resumed.history) == strip(clean.history)
    assert _same(clean.module.state_dict(), resumed.module.state_dict())


# -- EpochLog --------------------------------------------------------------------------------------------


def test_epoch_log_lines(colours8, tmp_path):
    lines = []
    trainer = _make(colours8, tmp_path / "m.pt", [Unfreezer("partial:2"), EarlyStopping(patience=1), EpochLog(lines.append)],
                    epochs=6, lr=0.5)
    trainer.fit()
    assert len(lines) == len(trainer.history) < 6
    assert lines[0].startswith("epoch 1/6  train loss ") and " | 2/8 groups | " in lines[0] and lines[0].endswith("s  *")
    assert lines[-1].endswith("  (early stop)") and "  *" not in lines[-1]
    assert all("val loss " in line for line in lines)


class _Watcher(Callback):
    """A user's callback: records every point it sees and stops training after ``stop_at`` epochs."""

    def __init__(self, stop_at=None):
        self.stop_at, self.seen, self.rows = stop_at, [], []

    def on_train_begin(self, trainer):
        self.seen.append("begin")

    def on_epoch_begin(self, trainer, epoch):
        self.seen.append(f"epoch {epoch}")

    def on_epoch_end(self, trainer, row):
        self.rows.append(dict(row))
        if self.stop_at is not None and len(self.rows) == self.stop_at:
            trainer.stop_training = True

    def on_train_end(self, trainer):
        self.seen.append("end")


def test_user_callbacks_see_every_epoch_after_the_built_ins_and_can_stop_training(colours8, tmp_path):
    watcher, stopper = _Watcher(), _Watcher(stop_at=2)
    out = tmp_path / "m.pt"
    result = finetune(colours8, out, **{**TINY, "epochs": 4, "patience": 0}, callbacks=[watcher, stopper])
    assert result.epochs_run == 2 and len(result.history) == 2
    assert watcher.seen == ["begin", "epoch 0", "epoch 1", "end"]
    # the rows they see are the recorded history rows, with what the built-in callbacks added ("improved")
    assert watcher.rows == stopper.rows == [dict(r) for r in result.history]
    assert all("improved" in r for r in watcher.rows)
    # callbacks are not settings: the same settings with other callbacks reuse the finished output
    again = finetune(colours8, out, **{**TINY, "epochs": 4, "patience": 0}, callbacks=[_Watcher()])
    assert again.reused and again.epochs_run == 2


def test_a_callback_that_is_not_a_callback_is_one_line(colours8, tmp_path):
    from featx.extract.finetune import FinetuneConfigError

    with pytest.raises(FinetuneConfigError, match=r"callbacks\[1\] must be a featx.extract.finetune.Callback.*got function"):
        finetune(colours8, tmp_path / "m.pt", **TINY, callbacks=[Callback(), lambda t: None])
    assert not (tmp_path / "m.pt").exists()
