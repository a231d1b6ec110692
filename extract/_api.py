"""The public :func:`extract`: one process (:mod:`featx.extract._engine`) or a Dask cluster in
shards (:mod:`featx.extract.cluster`). The engine never imports the cluster code; the cluster's
worker task calls the engine."""

from __future__ import annotations

from featx.extract._engine import ExtractionSummary, extract_local
import inspect


def extract(source, output, *, cluster=None, scheduler_file: str | None = None, shard_size: int | None = None,
            **settings) -> ExtractionSummary:
    """Extract features of ``source`` (folder or CSV manifest) into the HDF5 cache ``output``.

    ``settings`` are :func:`featx.extract._engine.extract_local`'s keyword arguments (model,
    weights, layers, pool, batch_size, workers, device, runtime, precision, dtype, tta, overwrite,
    strict, max_pixels, jpeg_draft, progress, backbone), with the same defaults.

    Resumes an interrupted job, extracts only added or changed images of a finished one, and
    refuses to mix features made with other settings (``overwrite=True`` replaces the cache).
    ``runtime`` (auto, torch, openvino; see :mod:`featx.extract.runtime._runtime`) is part of those
    settings: its name, version and precision are recorded in the cache spec.

    ``cluster`` ('local:N', a scheduler address or a ``distributed.Client``) or ``scheduler_file``
    runs the job on Dask in shards of ``shard_size`` rows joined into ``output``: the same
    datasets and values (see :mod:`featx.extract.cluster._cluster`).
    """
    bound = _SETTINGS.bind(source, output, **settings)  # an unknown keyword: the TypeError names it
    bound.apply_defaults()  # the cluster's shards get every setting, as one process has them
    settings = {k: v for k, v in bound.arguments.items() if k not in ("source", "output")}
    if shard_size is not None and cluster is None and scheduler_file is None:
        from featx.extract._errors import ExtractError

        raise ExtractError("the shard size applies only to an extraction on a cluster; add --cluster or "
                           "--scheduler-file, or leave out --shard-size")
    from featx.extract.cluster._cluster import joined_output  # a joined cache rerun here: its shards, in this process

    if cluster is not None or scheduler_file is not None or (not settings.get("overwrite") and joined_output(output)):
        from featx.extract.cluster._cluster import extract_on_cluster

        return extract_on_cluster(source, output, cluster=cluster, scheduler_file=scheduler_file, shard_size=shard_size,
                                  **settings)
    return extract_local(source, output, **settings)


_SETTINGS = inspect.signature(extract_local)
# help(extract) shows every setting with its default: the engine's keywords plus the cluster's
extract.__signature__ = _SETTINGS.replace(parameters=[
    *_SETTINGS.parameters.values(),
    *(inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in ("cluster", "scheduler_file", "shard_size")),
], return_annotation=ExtractionSummary)
