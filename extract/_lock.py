"""An exclusive lock beside a cache or output folder, so two jobs never write the same file.

The lock is ``fcntl.flock`` on ``PATH.lock``: the kernel drops it when the holder dies, so a lock
file left by a killed process is stale by construction and is simply taken over.
"""

from __future__ import annotations

import fcntl
import os

from featx.extract._errors import CacheLockedError


class FileLock:
    def __init__(self, target: str):
        self.target = os.fspath(target)
        self.path = self.target + ".lock"
        self._fd: int | None = None

    def acquire(self) -> "FileLock":
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
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
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:  # the file stays: unlinking it would race with a process opening it now
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
