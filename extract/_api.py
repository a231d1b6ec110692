"""The public :func:`extract`: one process (:mod:`featx.extract._engine`) or a Dask cluster in
shards (:mod:`featx.extract.cluster`). The engine never imports the cluster code; the cluster's
worker task calls the engine."""

from __future__ import annotations

from featx.extract._engine import ExtractionSummary, extract_local
from featx.extract.images._images import DEFAULT_MAX_PIXELS
from featx.extract.models._registry import DEFAULT_MODEL


def extract(
    source,
    output,
    *,
    model: str = DEFAULT_MODEL,
    weights: str = "default",
    layers=None,
    pool: str = "avg",
    batch_size: int = 64,
    workers: int | None = None,
    device: str = "auto",
    runtime: str = "auto",
    precision: str = "auto",
    dtype: str = "float16",
    tta: str = "none",
    overwrite: bool = False,
    strict: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    jpeg_draft: bool = True,
    progress: bool = True,
    backbone=None,
    cluster=None,
    scheduler_file: str | None = None,
    shard_size: int | None = None,
) -> ExtractionSummary:
    """Extract features of ``source`` (folder or CSV manifest) into the HDF5 cache ``output``.

    Resumes an interrupted job, extracts only added or changed images of a finished one, and
    refuses to mix features made with other settings (``overwrite=True`` replaces the cache).
    ``runtime`` (auto, torch, openvino; see :mod:`featx.extract.runtime._runtime`) is part of those
    settings: its name, version and precision are recorded in the cache spec.

    ``cluster`` ('local:N', a scheduler address or a ``distributed.Client``) or ``scheduler_file``
    runs the job on Dask in shards of ``shard_size`` rows joined into ``output``: the same
    datasets and values (see :mod:`featx.extract.cluster._cluster`).
    """
    settings = dict(model=model, weights=weights, layers=layers, pool=pool, batch_size=batch_size, workers=workers,
                    device=device, runtime=runtime, precision=precision, dtype=dtype, tta=tta, overwrite=overwrite,
                    strict=strict, max_pixels=max_pixels, jpeg_draft=jpeg_draft, progress=progress, backbone=backbone)
    if shard_size is not None and cluster is None and scheduler_file is None:
        from featx.extract._errors import ExtractError

        raise ExtractError("the shard size applies only to an extraction on a cluster; add --cluster or "
                           "--scheduler-file, or leave out --shard-size")
    from featx.extract.cluster._cluster import joined_output  # a joined cache rerun here: its shards, in this process

    if cluster is not None or scheduler_file is not None or (not overwrite and joined_output(output)):
        from featx.extract.cluster._cluster import extract_on_cluster

        return extract_on_cluster(source, output, cluster=cluster, scheduler_file=scheduler_file, shard_size=shard_size,
                                  **settings)
    return extract_local(source, output, **settings)
