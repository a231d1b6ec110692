"""A ``dask worker --preload`` script for the network-namespace tests: when the worker's
environment names ``FEATX_PAUSE_MID_SHARD=FILE``, the worker stops itself at the planned point of
:func:`helpers.paused_featx.pause_mid_shard` (part of a shard written, not all of it)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def dask_setup(worker):  # noqa: ARG001 - the preload hook's signature
    marker = os.environ.get("FEATX_PAUSE_MID_SHARD")
    if marker:
        from helpers.paused_featx import pause_mid_shard

        pause_mid_shard(marker)
