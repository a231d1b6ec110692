"""The extraction engine: ``extract()`` and its run loop. A source's rows are planned against the
cache (:mod:`._planning`), decoded by the one loading path (:mod:`._loading`), computed on the
device (:mod:`._compute`) and written as they finish (:mod:`._store`), resumable at any point.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from featx.common import remove_stale_tmp
from featx.extract.cache import _rerun
from featx.extract.cache import _store
from featx.extract._errors import CacheError, ExtractError, ExtractionFailedError
from featx.extract.images._images import DEFAULT_MAX_PIXELS
from featx.extract.cache._lock import FileLock
from featx.extract._options import BATCH_SIZE, DTYPE, DTYPES, EXTRACTION_OPTIONS, TTAS  # noqa: F401 (re-exported)
from featx.extract.models._registry import DEFAULT_MODEL
from featx.extract.images._sources import SourceTable, open_source
from featx.common.progress import progress_bar

if TYPE_CHECKING:  # the modules that import torch are imported once a job really computes
    from featx.extract.models._backbones import Backbone


@dataclass
class ExtractionSummary:
    """What one extraction job did."""

    path: str
    rows: int
    extracted: int  # computed by this run
    reused: int  # already in the cache
    failed: int  # rows recorded as failures (all runs)
    pending: int
    seconds: float
    device: str
    batch_size: int
    complete: bool
    runtime: str = "torch"

    @property
    def images_per_second(self) -> float:
        return self.extracted / self.seconds if self.seconds > 0 else 0.0

    def as_record(self) -> dict:
        """The summary as plain data: every field (``path`` named ``cache``) and ``images_per_second``."""
        record = {**asdict(self), "images_per_second": self.images_per_second}
        record["cache"] = record.pop("path")
        return record

    def line(self) -> str:
        state = "complete" if self.complete else f"incomplete ({self.pending} pending)"
        return (
            f"extracted {self.extracted} image(s), reused {self.reused}, {self.failed} failed, in "
            f"{self.seconds:.1f}s ({self.images_per_second:.1f} img/s on {self.device}/{self.runtime}) -> "
            f"{self.path} [{self.rows} rows, {state}]"
        )


def extract_local(
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
    backbone: Backbone | None = None,
) -> ExtractionSummary:
    """Extract features of ``source`` (folder, CSV manifest or a :class:`SourceTable`, e.g. one
    shard's rows) into the HDF5 cache ``output`` in this process; :func:`featx.extract.extract`
    is the public entry point, which also runs on a cluster."""
    t0 = time.perf_counter()
    output = os.fspath(output)
    if dtype not in DTYPES:
        raise ExtractError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    tta = tta or "none"
    if tta not in TTAS:
        raise ExtractError(f"tta must be one of {', '.join(TTAS)}; got {tta!r}")
    if int(batch_size) < 1:
        raise ExtractError(f"batch size must be at least 1; got {batch_size}")
    if os.path.isdir(output):  # before any model is built
        raise CacheError(f"{output!r} is a folder, not a cache file; name the cache file (e.g. "
                         f"{os.path.join(output, 'features.h5')!r})")
    table = source if isinstance(source, SourceTable) else open_source(source)  # a shard's rows: a table
    key = None
    if backbone is None and _rerun.cpu_without_torch(device):
        key = _rerun.request_key(model=model, weights=weights, layers=layers, pool=pool, dtype=dtype, tta=tta,
                                 jpeg_draft=jpeg_draft, runtime=runtime, precision=precision, device=device)
        finished = None if overwrite else _rerun.finished_summary(output, table, key)
        if finished is not None:  # a finished job on unchanged images: answered without torch
            rows, reused, failed, runtime_name = finished
            summary = ExtractionSummary(output, rows, 0, reused, failed, 0, time.perf_counter() - t0, "cpu",
                                        int(batch_size), True, runtime_name)
            return _checked(summary, table, output, strict)
    return _extract_built(table, output, t0, key, model=model, weights=weights, layers=layers, pool=pool,
                          batch_size=batch_size, workers=workers, device=device, runtime=runtime,
                          precision=precision, dtype=dtype, tta=tta, overwrite=overwrite, strict=strict,
                          max_pixels=max_pixels, jpeg_draft=jpeg_draft, progress=progress, backbone=backbone)


def _extract_built(table, output, t0, key, *, model, weights, layers, pool, batch_size, workers, device, runtime,
                   precision, dtype, tta, overwrite, strict, max_pixels, jpeg_draft, progress,
                   backbone) -> ExtractionSummary:
    """The job with its backbone and runtime built; ``key`` (when not None) is recorded in the
    cache once the job is finished, for the next rerun to be answered without building."""
    from featx.extract.models._backbones import build_backbone
    from featx.extract.runtime._compute import one_thread, resolve_device
    from featx.extract.images._loading import decoding_spec
    from featx.extract.models._resolve import layer_dims, resolve_layers
    from featx.extract.runtime._runtime import build_runtime

    if backbone is None:
        with one_thread():  # small init ops: see one_thread
            backbone = build_backbone(model, weights)
    dev = resolve_device(device)
    layer_names = resolve_layers(backbone, layers, pool, dims=False).names
    # the dimensions need a dry run of the model: only done when a cache file is (re)created, so
    # rerunning a finished job costs one traced dry run (resolving 'penultimate') at most
    dims = functools.partial(layer_dims, backbone, layer_names, pool)
    spec = {
        **backbone.provenance(),
        "layers": layer_names,
        "pooling": pool,
        "dtype": dtype,
        "tta": tta,
        "decoding": decoding_spec(bool(jpeg_draft)),
    }
    # built before the cache is checked: under 'auto' the runtime that really runs (after any
    # fallback to torch) is what the spec records (a converted OpenVINO model loads from disk)
    computer = build_runtime(runtime, backbone, layer_names, pool, dev, precision, tta)
    spec["runtime"] = computer.spec()
    if computer.name == "openvino" and pool != "none":  # the compiled model's outputs give the sizes
        dims = dict(zip(layer_names, computer.dims))  # (no dry run; 'none' keeps its large-size warning)
    try:
        summary = _extract_locked(output, table, spec, dims, dtype, overwrite, backbone, computer, dev,
                                  int(batch_size), workers, max_pixels, jpeg_draft, progress, key)
    finally:
        computer.close()
    summary.seconds = time.perf_counter() - t0
    return _checked(summary, table, output, strict)


def _checked(summary: ExtractionSummary, table, output: str, strict: bool) -> ExtractionSummary:
    """``summary``, or the error of a job none of whose images decoded (or, under ``strict``,
    any of them)."""
    if table and summary.failed == len(table):
        raise ExtractionFailedError(f"none of the {len(table)} images could be decoded (see 'featx info {output}'); check the source")
    if strict and summary.failed:
        raise ExtractionFailedError(f"{summary.failed} image(s) failed and --strict was given; see 'featx info {output}' for the reasons")
    return summary


def _extract_locked(output, table, spec, dims, dtype, overwrite, backbone, computer, dev, batch_size, workers,
                    max_pixels, jpeg_draft, progress, key=None) -> ExtractionSummary:
    """Plan, compute and write under the cache's lock."""
    from featx.extract.images import _loading
    from featx.extract.images._loading import ImageRows, blocks, default_workers, draft_size, make_loader
    from featx.extract.cache._planning import prepare_cache

    with FileLock(output):
        remove_stale_tmp(output)  # what a job killed while creating the file left
        reused = prepare_cache(output, table, spec, dims, dtype, overwrite)
        with _store.open_cache(output) as f:
            done = f["done"][:]
            complete = bool(f.attrs.get("complete", False))
            failed = int(sum(1 for r in f["failure"][:] if r))
        extracted = 0
        if not (complete and done.all()):  # a finished cache is not even opened for writing
            writer = _store.CacheWriter(output)
            try:
                pending = writer.pending()
                if len(pending):
                    pre = backbone.preprocessing
                    dataset = ImageRows([table.absolute(i) for i in range(len(table))], pre.pil_transform(),
                                        max_pixels, draft_size(pre, jpeg_draft))
                    n_workers = default_workers(len(pending), batch_size, dev) if workers is None else int(workers)
                    ahead = _loading.OPENVINO_AHEAD if computer.name == "openvino" else 0  # see _loading's docstring
                    loader = make_loader(dataset, blocks(pending, batch_size), n_workers, dev.type == "cuda", ahead)
                    extracted = _run(writer, loader, computer, len(pending), progress)
                complete = writer.finish()
                done = writer.f["done"][:]
                failed = int(sum(1 for r in writer.f["failure"][:] if r))
            finally:
                writer.close()
        left = int((done == 0).sum())
        if key is not None and complete and not left:
            _rerun.record_key(output, key)
    return ExtractionSummary(output, len(table), extracted, reused, failed, left, 0.0, str(dev), batch_size,
                             complete, computer.name)


def _run(writer: _store.CacheWriter, loader, computer, n_pending: int, progress: bool) -> int:
    """Compute and write every batch of ``loader``; returns the images extracted. A dead decoding
    worker ends the job with one line (finished rows are kept)."""
    from featx.extract.images._loading import is_worker_death, stop_workers, worker_died

    layers = computer.layers
    np_dtype = np.dtype(writer.f["features"][layers[0]].dtype)
    extracted = 0
    bar = progress_bar(n_pending, "extract", progress, unit="img")
    batches = iter(loader)
    try:
        for rows, images, hashes, bad_rows, bad_hashes, reasons in batches:
            feats = computer(images) if images is not None else {k: np.zeros((0, 1)) for k in layers}
            feats = {k: v.astype(np_dtype, copy=False) for k, v in feats.items()}
            writer.write(rows, feats, hashes, bad_rows, bad_hashes, reasons)
            extracted += len(rows)
            bar.update(len(rows) + len(bad_rows))
            if len(bad_rows):
                bar.set_postfix(failed=int(len(bad_rows)), refresh=False)
    except (RuntimeError, ConnectionError) as exc:
        # a worker killed while handing over a batch can also surface as a reset connection
        if not (is_worker_death(exc) or (isinstance(exc, ConnectionError) and hasattr(batches, "_shutdown_workers"))):
            raise
        # stop the other workers now: torch's SIGCHLD handler would otherwise raise again later,
        # in the middle of reporting this error (and it can raise once more during the shutdown)
        stop_workers(batches)
        raise worker_died(exc, f"the {extracted} image(s) finished in this run are kept in {writer.path}") from None
    finally:
        bar.close()
        if hasattr(loader, "close"):  # the in-process decoder: stop its threads now
            loader.close()
    return extracted
