"""The cache's lock: featx.common's :class:`~featx.common.files.FileLock`, refusing with
featx.extract's :class:`CacheLockedError` (an ``ExtractError``, so a CLI prints one line)."""

from __future__ import annotations

from featx.common import files
from featx.extract._errors import CacheLockedError


class FileLock(files.FileLock):
    locked_error = CacheLockedError
