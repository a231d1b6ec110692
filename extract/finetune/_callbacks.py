"""The policies of a fine-tune, as callbacks of the :class:`~featx.extract.finetune._loop.Trainer`
(after skorch's ``Freezer``, ``EarlyStopping`` and ``Checkpoint``).

- :class:`Unfreezer`: which block groups train in each epoch, following the strategy.
- :class:`EarlyStopping`: keeps the weights of the epoch with the lowest validation loss, stops
  after ``patience`` epochs without one, and puts the best weights back at the end.
- :class:`ResumeCheckpoint`: writes the resume state durably after every epoch.
- :class:`EpochLog`: one line per finished epoch.

A callback sees the trainer at ``on_train_begin``, ``on_epoch_begin(epoch)`` (0-based),
``on_epoch_end(row)`` (the epoch's history row, already recorded; a callback may add to it) and
``on_train_end``, in the order the callbacks are listed. One with state returns it from
``state_dict`` (plain data and tensors, merged into the resume state) and takes it back in
``load_state_dict``.
"""

from __future__ import annotations

from featx.extract.finetune import _state
from featx.extract.finetune._config import Strategy


class Callback:
    """Does nothing at every point; subclasses override the points they act at."""

    def on_train_begin(self, trainer) -> None:
        pass

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        pass

    def on_epoch_end(self, trainer, row: dict) -> None:
        pass

    def on_train_end(self, trainer) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Unfreezer(Callback):
    """Before each epoch, lets the top ``strategy.unfrozen(epoch)`` block groups (and the head)
    train; the rest stay frozen (``requires_grad=False``, eval mode). Stateless: the groups of an
    epoch follow from its number, so a resumed run unfreezes as an uninterrupted one."""

    def __init__(self, strategy, unfreeze_every: int = 1):
        self.strategy = Strategy.parse(strategy)
        self.unfreeze_every = unfreeze_every

    def unfrozen(self, epoch: int, n_groups: int) -> int:
        return self.strategy.unfrozen(epoch, n_groups, self.unfreeze_every)

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        trainer.freezer.set_trainable(self.unfrozen(epoch, len(trainer.freezer.groups)))


class EarlyStopping(Callback):
    """Keeps a CPU copy of the weights of the best epoch (the lowest validation loss; without a
    validation split every epoch counts as best) and stops training after ``patience`` epochs
    without a new best (0: never). A new stage of unfreezing (the number of trainable groups
    changed since the last epoch) gets its own patience. Adds ``improved`` to each history row
    and loads the best weights back into the module when training ends.

    List it after :class:`Unfreezer`: it reads the trainable groups the epoch starts with."""

    min_delta = 1e-7

    def __init__(self, patience: int):
        self.patience = patience
        self.best: dict | None = None  # {"epoch" (1-based), "val_loss", "state_dict"}
        self.bad_epochs = 0
        self.stopped = False

    @property
    def best_epoch(self) -> int | None:
        return int(self.best["epoch"]) if self.best else None

    def on_train_begin(self, trainer) -> None:
        if self.stopped:  # the state was written after the stopping epoch
            trainer.stop_training = True

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        if trainer.history and trainer.history[-1]["unfrozen"] != trainer.freezer.n_trainable:
            self.bad_epochs = 0

    def on_epoch_end(self, trainer, row: dict) -> None:
        val_loss = row["val_loss"]
        improved = self.best is None or val_loss is None or val_loss < self.best["val_loss"] - self.min_delta
        if improved:
            state = trainer.module.state_dict()
            self.best = {"epoch": row["epoch"], "val_loss": val_loss,
                         "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in state.items()}}
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        row["improved"] = improved
        self.stopped = bool(val_loss is not None and self.patience and self.bad_epochs >= self.patience
                            and row["epoch"] < trainer.epochs)
        if self.stopped:
            trainer.stop_training = True

    def on_train_end(self, trainer) -> None:
        if self.best is not None:
            trainer.module.load_state_dict(self.best["state_dict"])

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_epochs": self.bad_epochs, "stopped_early": self.stopped}

    def load_state_dict(self, state: dict) -> None:
        self.best = state.get("best")
        self.bad_epochs = int(state["bad_epochs"])
        self.stopped = bool(state["stopped_early"])


class ResumeCheckpoint(Callback):
    """After every epoch, writes the trainer's state (and every callback's) to ``path``
    atomically (:func:`_state.write_state`): a kill leaves the state of the last finished epoch.
    ``fixed`` is stored beside it unchanged (the settings' fingerprint, the split, the arch).
    List it after the callbacks whose state it saves."""

    def __init__(self, path: str, **fixed):
        self.path = path
        self.fixed = fixed

    def on_epoch_end(self, trainer, row: dict) -> None:
        _state.write_state(self.path, {**self.fixed, **trainer.state_dict()})


class EpochLog(Callback):
    """``say`` one line per finished epoch (losses, accuracy, learning rate, trainable groups)."""

    def __init__(self, say):
        self.say = say

    def on_epoch_end(self, trainer, row: dict) -> None:
        epochs, n_groups = trainer.epochs, len(trainer.freezer.groups)
        width = len(str(epochs))
        val = (f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.3f}" if row["val_loss"] is not None
               else "no validation")
        mark = "  *" if row.get("improved") else ""
        stop = "  (early stop)" if trainer.stop_training else ""
        self.say(f"epoch {row['epoch']:>{width}}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.3f} | "
                 f"{val} | lr {row['lr']:.1e} | {row['unfrozen']}/{n_groups} groups | {row['seconds']:.1f}s{mark}{stop}")
