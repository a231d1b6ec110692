"""Planned stop points for the kill tests: a job stops itself with SIGSTOP at a planned point, so
that a test's SIGKILL lands exactly there on a fast machine, a slow one or one busy with other
tests (a kill timed from outside can land after the job has finished).

``python paused_featx.py ARGS`` runs ``featx ARGS`` (as ``python -m featx.pipelines`` does) with
the stop points that these environment variables name (none set: the plain job):

- ``FEATX_CHAOS_PAUSE`` - a point of writing the cache (below);
- ``FEATX_PAUSE_AFTER_SHARDS="N:FILE"`` - a cluster driver, once it has collected ``N`` finished
  shards, writes ``FILE`` and stops its whole process group (itself and its local workers, which
  are its children when the test started it with ``start_new_session=True``), so no shard moves on;
- ``FEATX_PAUSE_AFTER_EPOCHS="N:FILE"`` - fine-tuning stops once it has written its ``N``-th
  resume state (``model.pt.resume`` after epoch ``N`` of a fresh run);
- ``FEATX_PAUSE_AT_BATCH="E:B:FILE"`` - fine-tuning stops at training batch ``B`` of the epoch
  after ``E`` finished epochs of the run (its DataLoader workers are running then);
- ``FEATX_PAUSE_AFTER_CV="N:FILE"`` - ``featx run`` stops once its result cache holds ``N``
  entries (the configurations still being fitted are in flight);
- ``FEATX_PAUSE_AT_STAGE="STAGE:FILE"`` - ``featx run`` stops as it starts ``STAGE`` (``report``,
  ``learning_curve``, ``pca``...);
- ``FEATX_PAUSE_AFTER_MODELS="N:FILE"`` - a job that fine-tunes (``featx finetune``, the transfer
  study of ``featx run``) stops once it has saved its ``N``-th fine-tuned model.

:func:`pause_mid_shard` is the worker's stop point, installed on running Dask workers with
``client.run``: the first worker to have written part of a shard (not all of it) stops itself.

``FEATX_CHAOS_PAUSE="ROWS:MODE:FILE"``: the batch that takes the cache to ``ROWS`` done rows or
more - and is not the first batch this process writes, so every kill lands on a job that resumed -
is where the process writes ``FILE`` (the test's signal to kill) and stops itself. ``MODE``:

- ``before``: the batch is computed, nothing of it is written;
- ``mid``: its features, hashes and failures are written and flushed, its ``done`` flags not yet;
- ``after``: the batch is fully written.

Only the test harness uses this; featx itself has no pause hook.
"""

from __future__ import annotations

import os
import signal
import sys

MODES = ("before", "mid", "after")


def _pause(marker: str, text: str = "", group: bool = False) -> None:
    tmp = f"{marker}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(text or str(os.getpid()))
    os.replace(tmp, marker)  # the test never reads a half-written marker
    if group and os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGSTOP)  # this process and its children at once
    else:
        os.kill(os.getpid(), signal.SIGSTOP)  # the harness SIGKILLs the stopped process


def install_after_shards(spec: str) -> None:
    """Wrap the cluster driver's collection of shard results: after the ``N``-th one, stop."""
    from featx.extract.cluster import _cluster

    count, marker = spec.split(":", 1)
    target, seen = int(count), []
    result = _cluster._result

    def paused_result(future, shard, path):
        record = result(future, shard, path)
        seen.append(path)
        if len(seen) == target:
            _pause(marker, group=True)
        return record

    _cluster._result = paused_result


def install_after_epochs(spec: str) -> None:
    """Wrap fine-tuning's resume-state writer: after the ``N``-th state is written, stop."""
    from featx.extract.finetune import _state

    count, marker = spec.split(":", 1)
    target, seen = int(count), []
    write_state = _state.write_state

    def paused_write_state(path, state):
        write_state(path, state)
        seen.append(path)
        if len(seen) == target:
            _pause(marker)

    _state.write_state = paused_write_state


def install_at_batch(spec: str) -> None:
    """``EPOCH:BATCH:FILE``: wrap fine-tuning's resume-state reader and writer and its per-batch
    learning-rate step, so the job stops at training batch ``BATCH`` (1-based) of the epoch after
    ``EPOCH`` finished epochs - counted from the run's start, whether this process started fresh
    or resumed (``0:1``: the first batch of a fresh run). Its DataLoader workers are running then."""
    from featx.extract.finetune import _optim, _state

    epoch, batch, marker = spec.split(":", 2)
    target, at = int(epoch), int(batch)
    where = {"finished": 0, "batches": 0, "paused": False}
    read_state, write_state, set_lr = _state.read_state, _state.write_state, _optim.set_lr

    def counted_read_state(path):
        state = read_state(path)
        where.update(finished=int(state["epoch"]), batches=0)
        return state

    def counted_write_state(path, state):
        write_state(path, state)
        where.update(finished=int(state["epoch"]), batches=0)

    def paused_set_lr(optimizer, factor):
        where["batches"] += 1
        if not where["paused"] and where["finished"] == target and where["batches"] == at:
            where["paused"] = True
            _pause(marker)
        set_lr(optimizer, factor)

    _state.read_state, _state.write_state, _optim.set_lr = counted_read_state, counted_write_state, paused_set_lr


def install_after_cv(spec: str) -> None:
    """Wrap the job's result cache: once it holds ``N`` entries (counted on disk, so from the run's
    start whether this process resumed or not), stop after the write that got it there."""
    from featx.pipelines.stages import _stages

    count, marker = spec.split(":", 1)
    target, state = int(count), {"paused": False}
    save = _stages.ResultCache.save

    def paused_save(self, key, doc):
        save(self, key, doc)
        held = sum(1 for n in os.listdir(self.folder) if n.endswith(".json"))
        if not state["paused"] and held >= target:
            state["paused"] = True
            _pause(marker)

    _stages.ResultCache.save = paused_save


def install_at_stage(spec: str) -> None:
    """Wrap the job's stage announcer: stop as soon as the stage ``STAGE`` has started."""
    import contextlib

    from featx.common.stages import Stages

    stage, marker = spec.split(":", 1)
    run, state = Stages.run, {"paused": False}

    @contextlib.contextmanager
    def paused_run(self, name, label):
        with run(self, name, label):
            if name == stage and not state["paused"]:
                state["paused"] = True
                _pause(marker)
            yield

    Stages.run = paused_run


def install_after_models(spec: str) -> None:
    """Wrap the saving of a fine-tuned model: after the ``N``-th one is saved, stop."""
    from featx.extract.finetune import _trainer

    count, marker = spec.split(":", 1)
    target, seen = int(count), []
    save = _trainer.save_checkpoint

    def paused_save(path, *args, **kwargs):
        save(path, *args, **kwargs)
        seen.append(path)
        if len(seen) == target:
            _pause(marker)

    _trainer.save_checkpoint = paused_save


def pause_mid_shard(marker: str, min_rows: int = 2) -> int:
    """On a Dask worker (``client.run(pause_mid_shard, marker)``): wrap the cache writer so that
    the first worker to have written ``min_rows`` or more rows of a shard, but not all of them,
    writes ``"PID PATH"`` to ``marker`` and stops itself. Only one worker stops (``marker`` is
    claimed with O_EXCL). Returns the worker's pid."""
    from featx.extract.cache import _store

    write = _store.CacheWriter.write

    def paused_write(self, rows, features, hashes, failed_rows, failed_hashes, reasons):
        write(self, rows, features, hashes, failed_rows, failed_hashes, reasons)
        done = int((self.f["done"][:] != 0).sum())
        if min_rows <= done < self.n_rows:
            try:
                os.close(os.open(marker + ".claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
            _pause(marker, f"{os.getpid()} {self.path}")

    _store.CacheWriter.write = paused_write
    return os.getpid()


def install(spec: str) -> None:
    """Wrap the cache writer so that the process stops at the point ``spec`` names."""
    from featx.extract.cache import _store

    rows, mode, marker = spec.split(":", 2)
    target = int(rows)
    if mode not in MODES:
        raise ValueError(f"pause mode must be one of {', '.join(MODES)}; got {mode!r}")
    state = {"batches": 0, "armed": False, "paused": False}
    write, write_rows = _store.CacheWriter.write, _store._write_rows

    def paused_write(self, rows, features, hashes, failed_rows, failed_hashes, reasons):
        done_after = int((self.f["done"][:] != 0).sum()) + len(rows) + len(failed_rows)
        due = state["batches"] > 0 and done_after >= target and not state["paused"]
        state["batches"] += 1
        state["paused"] = state["paused"] or due
        if due and mode == "before":
            _pause(marker)
        state["armed"] = due and mode == "mid"
        write(self, rows, features, hashes, failed_rows, failed_hashes, reasons)
        if due and mode == "after":
            _pause(marker)

    def paused_write_rows(ds, rows, values):
        if state["armed"] and ds.name == "/done":
            state["armed"] = False
            _pause(marker)
        write_rows(ds, rows, values)

    _store.CacheWriter.write = paused_write
    _store._write_rows = paused_write_rows


#: environment variable -> the stop point it installs
STOPS = {
    "FEATX_CHAOS_PAUSE": install,
    "FEATX_PAUSE_AFTER_SHARDS": install_after_shards,
    "FEATX_PAUSE_AFTER_EPOCHS": install_after_epochs,
    "FEATX_PAUSE_AT_BATCH": install_at_batch,
    "FEATX_PAUSE_AFTER_CV": install_after_cv,
    "FEATX_PAUSE_AT_STAGE": install_at_stage,
    "FEATX_PAUSE_AFTER_MODELS": install_after_models,
}


if __name__ == "__main__":
    for variable, install_stop in STOPS.items():
        if os.environ.get(variable):
            install_stop(os.environ[variable])
    from featx.pipelines.cli import main

    sys.exit(main(sys.argv[1:]))
