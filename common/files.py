"""Atomic, durable file writes.

Every file featx writes for keeps (caches' metadata, checkpoints, bundles, results, reports) goes
through :func:`atomic_write`: the content is written to ``<path>.tmp-<pid>-<n>`` in the same
folder, flushed and fsynced, renamed over ``path`` and the folder is fsynced. After a kill or a
power cut ``path`` holds the old content or the new one, never a partial file; a temporary file a
killed process left is removed by :func:`remove_stale_tmp` (:func:`remove_stale_tmp_in` for a
whole folder) by the next job holding the lock.

:class:`FileLock` is an exclusive lock beside a cache or output folder, so two jobs never write
the same file. It is ``fcntl.flock`` on ``PATH.lock``: the kernel drops it when the holder dies,
so a lock file left by a killed process is stale by construction and is simply taken over. A
flock belongs to the open file, which forked children (DataLoader workers) share: a worker that
outlives a killed job by a few seconds would keep the lock, and a rerun started at once would be
refused. So forked children close their copy of every held lock at once (``os.register_at_fork``).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import itertools
import json
import os
import weakref
from collections.abc import Iterator
from typing import IO, Any

_counter = itertools.count()


def fsync_path(path: str) -> None:
    """fsync a file or a folder by path (best effort: some filesystems refuse folders)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def tmp_path(path: str) -> str:
    """A temporary name beside ``path``, unique to this process and call, that
    :func:`remove_stale_tmp` recognises."""
    return f"{path}.tmp-{os.getpid()}-{next(_counter)}"


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", *, encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """``with atomic_write(path, "wb") as fh: ...`` writes ``path`` all or nothing.

    ``mode`` is ``"w"`` (text, ``encoding``) or ``"wb"``. On an exception the temporary file is
    removed and ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb'; got {mode!r}")
    path = os.fspath(path)
    tmp = tmp_path(path)
    try:
        with open(tmp, mode, **({} if mode == "wb" else {"encoding": encoding})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_path(os.path.dirname(os.path.abspath(path)))


def destination_problem(path, flag: str, overwrite: bool = False, *, overwrite_flag: str = "--overwrite") -> str | None:
    """One line saying why ``path`` (given as ``flag``: ``--json``, ``-o``, a spec key) cannot be
    written, or None: its folder must exist, it must not be a folder, and an existing file is
    replaced only with ``overwrite``. Checked before any work, so a bad destination never
    fails after it."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"{flag} {path!r} is a folder; name a file inside it (e.g. {os.path.join(path, 'out.json')!r})"
    if not os.path.isdir(parent):
        return f"{flag} {path!r}: its folder {os.path.dirname(path) or parent!r} does not exist; create it or choose another path"
    if not os.access(parent, os.W_OK):
        return f"{flag} {path!r}: its folder is not writable; choose another path"
    if os.path.exists(path) and not overwrite:
        return f"{flag} {path!r} exists; pass {overwrite_flag} to replace it, or choose another path"
    return None


def write_text(path, text: str) -> str:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return os.fspath(path)


def write_json(path, doc, *, indent: int | None = 2, allow_nan: bool = False) -> str:
    """Write ``doc`` (plain data: see :func:`featx.common.to_jsonable`) as JSON, atomically."""
    text = json.dumps(doc, indent=indent, allow_nan=allow_nan)
    return write_text(path, text + ("\n" if indent is not None else ""))


def remove_stale_tmp(path) -> int:
    """Remove the temporary files of :func:`atomic_write` that killed processes left beside
    ``path``; call it while holding the lock that guards ``path``. Returns how many went."""
    return _remove(glob.escape(os.fspath(path)) + ".tmp-*")


def remove_stale_tmp_in(folder) -> int:
    """:func:`remove_stale_tmp` for every file of ``folder`` (not its sub-folders) at once; call
    it while holding the lock that guards the folder. Returns how many went."""
    return _remove(os.path.join(glob.escape(os.fspath(folder)), "*.tmp-*"))


def _remove(pattern: str) -> int:
    removed = 0
    for stale in glob.glob(pattern):
        with contextlib.suppress(OSError):
            os.unlink(stale)
            removed += 1
    return removed


def write_csv(path, rows) -> str:
    """Write ``rows`` (lists of cells, the header first) as CSV, atomically; returns ``path``.
    Text is UTF-8 with undecodable path bytes kept (``surrogateescape``), lines end as the
    ``csv`` module ends them on every platform."""
    import csv
    import io

    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue().encode("utf-8", "surrogateescape"))
    return os.fspath(path)


_HELD: "weakref.WeakSet[FileLock]" = weakref.WeakSet()


def _forget_in_child() -> None:
    """In a forked child: close the inherited lock descriptors (the parent keeps its locks)."""
    for lock in list(_HELD):
        if lock._fd is not None:
            try:
                os.close(lock._fd)
            except OSError:
                pass
            lock._fd = None
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not removed or replaced meanwhile)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


class LockedError(BlockingIOError):
    """Another process holds the lock of the path it was asked for."""


class FileLock:
    """``with FileLock(path):`` holds ``path + ".lock"`` exclusively (raises :attr:`locked_error`,
    naming the holder's pid, when another process holds it)."""

    locked_error: type[BlockingIOError] = LockedError

    def __init__(self, target: str):
        self.target = os.fspath(target)
        self.path = self.target + ".lock"
        self._fd: int | None = None

    def acquire(self) -> "FileLock":
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise self.locked_error(
                    f"{self.target} is being written by another featx process (pid {holder}); wait for it "
                    "to finish or write to another path"
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed this file as it let go: lock the one at the path now
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        _HELD.add(self)
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:  # removed while still held; a process that opened it meanwhile sees that and retries
                if _same_file(self._fd, self.path):
                    os.unlink(self.path)
            except OSError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        _HELD.discard(self)

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
