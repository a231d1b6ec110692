"""The HDF5 feature cache: writing rows (``_store``), reading finished rows (``_reader``), planning
what a rerun must compute (``_planning``, ``_rerun``), joining shards into one cache (``_join``) and
the lock that keeps two jobs off one file (``_lock``).

May import featx.common, featx.extract._errors/_options and featx.extract.images; never
featx.extract.runtime, featx.extract.cluster or torch at module level.
"""

from featx.common.lazy import lazy_exports

# public names by module (in this sub-package), imported on first use
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _join: recorded_shards
    _lock: FileLock
""")
