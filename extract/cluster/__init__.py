"""Sharded extraction on a Dask cluster: the shard plan (``_shards``) and the driver with its worker
task (``_cluster``). Each shard is an ordinary resumable cache, joined by featx.extract.cache.

May import every other part of featx.extract; nothing in featx.extract imports it back except
the engine's entry point.
"""
