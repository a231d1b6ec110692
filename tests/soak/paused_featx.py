"""``python paused_featx.py ARGS`` runs ``featx ARGS`` (as ``python -m featx.pipelines`` does) and,
when ``FEATX_CHAOS_PAUSE`` is set, stops itself with SIGSTOP at a planned point of writing the
cache, so that a chaos test's SIGKILL lands exactly there on a fast machine, a slow one or one
busy with other tests (a kill timed from outside can land after the job has finished).

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


def _pause(marker: str) -> None:
    with open(marker, "w") as fh:
        fh.write(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGSTOP)  # the harness SIGKILLs the stopped process


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


if __name__ == "__main__":
    if os.environ.get("FEATX_CHAOS_PAUSE"):
        install(os.environ["FEATX_CHAOS_PAUSE"])
    from featx.pipelines.cli import main

    sys.exit(main(sys.argv[1:]))
