"""The extraction engine: ``extract()`` and its run loop. A source's rows are planned against the
cache (:mod:`._planning`), decoded by the one loading path (:mod:`._loading`), computed on the
device (:mod:`._compute`) and written as they finish (:mod:`._store`), resumable at any point.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from featx.common import remove_stale_tmp
from featx.extract import _store
from featx.extract._backbones import Backbone, build_backbone
from featx.extract._compute import check_tta, one_thread, resolve_device
from featx.extract._errors import ExtractError, ExtractionFailedError
from featx.extract._images import DEFAULT_MAX_PIXELS
from featx.extract._loading import (
    JPEG_DRAFT, MAX_PIXELS, WORKERS, ImageRows, blocks, decoding_spec, default_workers, draft_size, is_worker_death,
    make_loader, worker_died,
)
from featx.extract._lock import FileLock
from featx.extract._options import BATCH_SIZE, DTYPE, DTYPES, EXTRACTION_OPTIONS  # noqa: F401 (re-exported)
from featx.extract._planning import prepare_cache
from featx.extract._registry import DEFAULT_MODEL
from featx.extract._resolve import layer_dims, resolve_layers
from featx.extract._runtime import build_runtime
from featx.extract._sources import open_source


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
    backbone: Backbone | None = None,
) -> ExtractionSummary:
    """Extract features of ``source`` (folder or CSV manifest) into the HDF5 cache ``output``.

    Resumes an interrupted job, extracts only added or changed images of a finished one, and
    refuses to mix features made with other settings (``overwrite=True`` replaces the cache).
    ``runtime`` (auto, torch, openvino; see :mod:`featx.extract._runtime`) is part of those
    settings: its name, version and precision are recorded in the cache spec.
    """
    t0 = time.perf_counter()
    output = os.fspath(output)
    if dtype not in DTYPES:
        raise ExtractError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    tta = check_tta(tta)
    if int(batch_size) < 1:
        raise ExtractError(f"batch size must be at least 1; got {batch_size}")
    table = open_source(source)
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
    try:
        summary = _extract_locked(output, table, spec, dims, dtype, overwrite, backbone, computer, dev,
                                  int(batch_size), workers, max_pixels, jpeg_draft, progress)
    finally:
        computer.close()
    summary.seconds = time.perf_counter() - t0
    if table and summary.failed == len(table):
        raise ExtractionFailedError(f"none of the {len(table)} images could be decoded (see 'featx info {output}'); check the source")
    if strict and summary.failed:
        raise ExtractionFailedError(f"{summary.failed} image(s) failed and --strict was given; see 'featx info {output}' for the reasons")
    return summary


def _extract_locked(output, table, spec, dims, dtype, overwrite, backbone, computer, dev, batch_size, workers,
                    max_pixels, jpeg_draft, progress) -> ExtractionSummary:
    """Plan, compute and write under the cache's lock."""
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
                    ahead = 1 if computer.name == "openvino" else 0  # see _loading's module docstring
                    loader = make_loader(dataset, blocks(pending, batch_size), n_workers, dev.type == "cuda", ahead)
                    extracted = _run(writer, loader, computer, len(pending), progress)
                complete = writer.finish()
                done = writer.f["done"][:]
                failed = int(sum(1 for r in writer.f["failure"][:] if r))
            finally:
                writer.close()
        left = int((done == 0).sum())
    return ExtractionSummary(output, len(table), extracted, reused, failed, left, 0.0, str(dev), batch_size,
                             complete, computer.name)


def _run(writer: _store.CacheWriter, loader, computer, n_pending: int, progress: bool) -> int:
    """Compute and write every batch of ``loader``; returns the images extracted. A dead decoding
    worker ends the job with one line (finished rows are kept)."""
    from tqdm.auto import tqdm

    layers = computer.layers
    np_dtype = np.dtype(writer.f["features"][layers[0]].dtype)
    extracted = 0
    bar = tqdm(total=n_pending, unit="img", desc="extract", disable=None if progress else True, dynamic_ncols=True)
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
        # in the middle of reporting this error
        getattr(batches, "_shutdown_workers", lambda: None)()
        raise worker_died(exc, f"the {extracted} image(s) finished in this run are kept in {writer.path}") from None
    finally:
        bar.close()
        if hasattr(loader, "close"):  # the in-process decoder: stop its threads now
            loader.close()
    return extracted
