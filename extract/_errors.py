"""Errors raised by featx.extract.

Every leaf error also subclasses the builtin a caller would naturally catch, and every message is
one line that names the problem and the fix.
"""

from __future__ import annotations

from featx.common.files import LockedError


class ExtractError(Exception):
    """Base class of the errors raised by featx.extract."""


class UnknownModelError(ExtractError, ValueError):
    """A model spec names no known backbone."""


class UnknownLayerError(ExtractError, ValueError):
    """A requested layer is not a module of the backbone."""


class WeightsError(ExtractError, ValueError):
    """Weights could not be found, read or matched to the architecture."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """Weights are not on disk and cannot be downloaded (offline)."""


class CheckpointError(ExtractError, ValueError):
    """A featx checkpoint file is missing, damaged or of another architecture."""


class SourceError(ExtractError, ValueError):
    """An image source (folder or manifest) is missing, empty or malformed."""


class CacheError(ExtractError, ValueError):
    """An HDF5 feature cache cannot be used as asked."""


class CacheMismatchError(CacheError):
    """An existing cache was made with other settings than the ones asked for."""


class CacheLockedError(CacheError, LockedError):
    """Another process is writing the cache."""


class CacheWriteError(CacheError, OSError):
    """Writing the cache failed (full disk, file size limit); finished rows are kept."""


class CacheDamagedError(CacheError, OSError):
    """The cache file is truncated or otherwise unreadable."""


class WorkerDiedError(ExtractError, RuntimeError):
    """A DataLoader worker (decoding images) was killed or crashed; finished rows are kept."""


class ExtractionFailedError(ExtractError, RuntimeError):
    """Nothing could be extracted, or --strict was given and some images failed."""


class RuntimeUnsupported(ExtractError):
    """OpenVINO cannot take this model or layer (the reason is the message)."""


class ClusterExtractError(ExtractError, RuntimeError):
    """An extraction on a cluster cannot run (no dask, no scheduler, a worker that cannot see the
    source, a shard task that failed)."""
