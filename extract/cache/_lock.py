"""An exclusive lock beside a cache or output folder, so two jobs never write the same file.

The lock is ``fcntl.flock`` on ``PATH.lock``: the kernel drops it when the holder dies, so a lock
file left by a killed process is stale by construction and is simply taken over.

A flock belongs to the open file, which forked children (DataLoader workers) share: a worker that
outlives a killed job by a few seconds would keep the lock, and a rerun started at once would be
refused. So forked children close their copy of every held lock at once (``os.register_at_fork``).
"""

from __future__ import annotations

import fcntl
import os
import weakref

from featx.extract._errors import CacheLockedError


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


class FileLock:
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
                raise CacheLockedError(
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
