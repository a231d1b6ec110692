"""The extraction engine: source -> DataLoader workers (read, hash, decode, resize) -> device
(normalise, forward, tap, pool) -> HDF5 cache, resumable at any point."""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from featx.common import Option
from featx.extract._backbones import Backbone, build_backbone
from featx.extract._errors import ExtractError, ExtractionFailedError, WorkerDiedError
from featx.extract._images import DEFAULT_MAX_PIXELS, decode_rgb, file_stat, read_bytes, sha256_hex
from featx.extract._layers import PENULTIMATE, LayerTap, check_layers, penultimate_layer
from featx.extract._lock import FileLock
from featx.extract._pooling import LARGE_FLAT_DIM, POOLS
from featx.extract._registry import DEFAULT_MODEL
from featx.extract._sources import SourceTable, open_source
from featx.extract import _store

# Every extraction setting, defined once: extract() checks its arguments with these, the CLI adds
# its flags from them and the pipeline spec builds its [extraction] keys and docs/spec.md from them.
BATCH_SIZE = Option("batch_size", 64, "images per forward pass (halved on CUDA out-of-memory)", kind=int, minimum=1)
WORKERS = Option("workers", None, "decoding worker processes ('auto': 0 on the CPU = in-process threads between "
                 "forward passes; up to 4 on a GPU)", kind=int, minimum=0, none_word="auto")
DEVICE = Option("device", "auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
PRECISION = Option("precision", "auto", "autocast precision (auto: bf16/fp16 on GPU, fp32 on CPU)",
                   choices=("auto", "fp32", "bf16", "fp16"))
DTYPE = Option("dtype", "float16", "stored feature dtype", choices=("float16", "float32"))
TTA = Option("tta", "none", "test-time augmentation: 'hflip' stores the mean of the image's and its mirror's features",
             choices=("none", "hflip"))
JPEG_DRAFT = Option("jpeg_draft", True, "let Pillow decode large JPEGs at reduced size (faster, same result after "
                    "resizing); --no-jpeg-draft decodes at full size", kind=bool)
MAX_PIXELS = Option("max_pixels", None, "refuse images with more pixels (default: about 89 million)", kind=int, minimum=1)
POOL = Option("pool", "avg", "pooling of spatial maps", choices=POOLS)
# the settings every extraction job shares (the spec's [extraction] table; pool is per backbone)
EXTRACTION_OPTIONS = (BATCH_SIZE, WORKERS, DEVICE, PRECISION, DTYPE, TTA, JPEG_DRAFT, MAX_PIXELS)
PRECISIONS = PRECISION.choices
DTYPES = DTYPE.choices
TTAS = TTA.choices
# JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale. The decoded image is kept at least
# DRAFT_MARGIN times the resize target on both sides, so Pillow's antialiased resize still does the
# real downscaling: on real photos the features stay within JPEG re-encoding noise of the exact
# path (cosine >= 0.9994 on hymenoptera; see tests/unit/extract/test_perf_draft.py), while a 12 MP
# photo decodes about 4x faster. A margin of 1 (decode right down to the target) drifts to 0.98.
DRAFT_MARGIN = 2


def decoding_spec(jpeg_draft: bool) -> dict:
    """How images are decoded, as recorded in (and compared against) the cache spec."""
    return {"jpeg_draft": True, "draft_margin": DRAFT_MARGIN} if jpeg_draft else {"jpeg_draft": False}


def draft_size(preprocessing, jpeg_draft: bool) -> int | None:
    """The ``draft_size`` passed to :func:`decode_rgb` (None: always decode at full size)."""
    return DRAFT_MARGIN * int(preprocessing.resize_size) if jpeg_draft else None


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

    @property
    def images_per_second(self) -> float:
        return self.extracted / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        state = "complete" if self.complete else f"incomplete ({self.pending} pending)"
        return (
            f"extracted {self.extracted} image(s), reused {self.reused}, {self.failed} failed, in "
            f"{self.seconds:.1f}s ({self.images_per_second:.1f} img/s on {self.device}) -> "
            f"{self.path} [{self.rows} rows, {state}]"
        )


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ExtractError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ExtractError(f"device {device!r} asked but CUDA is not available here; use --device cpu or auto")
    return dev


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype (None: plain fp32)."""
    if precision not in PRECISIONS:
        raise ExtractError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return None
    if precision == "fp32":
        return None
    if precision == "fp16" and device.type == "cpu":
        raise ExtractError("fp16 autocast needs a GPU; use --precision fp32 or bf16 on the CPU")
    return torch.bfloat16 if precision == "bf16" else torch.float16


class _ImageRows(torch.utils.data.Dataset):
    """Row index -> (row, uint8 HWC array or None, sha256, failure reason).

    ``transform`` is the backbone's :class:`PilResizeCrop`; arrays (not tensors) cross the worker
    boundary and are stacked once per batch into an NHWC block, which is the channels_last layout
    the model runs in."""

    def __init__(self, files: list[str], transform, max_pixels: int, draft_size: int | None):
        self.files = files
        self.transform = transform
        self.max_pixels = max_pixels
        self.draft_size = draft_size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, row: int):
        try:
            data = read_bytes(self.files[row])
        except OSError as exc:
            return row, None, "", f"cannot read file: {exc.strerror or exc}"
        digest = sha256_hex(data)
        try:
            img = decode_rgb(data, max_pixels=self.max_pixels, draft_size=self.draft_size)
            return row, self.transform.array(img), digest, ""
        except ValueError as exc:
            return row, None, digest, str(exc)
        except Exception as exc:  # a transform failing on an odd image must not kill the worker
            return row, None, digest, f"cannot preprocess image: {type(exc).__name__}: {exc}"[:250]


def _collate(items):
    """One batch: rows, uint8 images (N, 3, H, W) stored channels_last (one copy into the
    shared-memory block), hashes, and the failed rows with their hashes and reasons."""
    ok = [it for it in items if it[1] is not None]
    bad = [it for it in items if it[1] is None]
    images = None
    if ok:
        shape = (len(ok), *ok[0][1].shape)
        if torch.utils.data.get_worker_info() is not None:
            # straight into shared memory, so the batch reaches the main process without a copy
            # (what torch's default_collate does)
            numel = int(np.prod(shape))
            storage = torch.empty(0, dtype=torch.uint8)._typed_storage()._new_shared(numel, device="cpu")
            block = torch.empty(0, dtype=torch.uint8).set_(storage).view(shape)
        else:
            block = torch.empty(shape, dtype=torch.uint8)
        out = block.numpy()
        for i, it in enumerate(ok):
            out[i] = it[1]
        images = block.permute(0, 3, 1, 2)
    return (
        np.array([it[0] for it in ok], dtype=np.int64), images, [it[2] for it in ok],
        np.array([it[0] for it in bad], dtype=np.int64), [it[2] for it in bad], [it[3] for it in bad],
    )


def _blocks(pending: np.ndarray, batch_size: int) -> list[list[int]]:
    """Pending rows grouped by fixed blocks of the row space, so a resumed job forms the same
    batches as an uninterrupted one (identical results, batch for batch)."""
    if not len(pending):
        return []
    block_ids = pending // batch_size
    cuts = np.flatnonzero(np.diff(block_ids)) + 1
    return [chunk.tolist() for chunk in np.split(pending, cuts)]


class FeatureComputer:
    """The device side: normalise a uint8 batch, run the tapped backbone, pool, return numpy."""

    def __init__(self, backbone: Backbone, layers: list[str], pool: str, device: torch.device,
                 autocast_dtype: torch.dtype | None, tta: str = "none", channels_last: bool = True):
        self.backbone = backbone
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.tta = tta
        self.channels_last = channels_last and device.type != "mps"
        module = backbone.module.to(device).eval()
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.tap = LayerTap(module, layers, pool)
        self.layers = list(layers)
        self.max_chunk: int | None = None

    def __call__(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        x = images.to(self.device, non_blocking=True)
        x = self.backbone.preprocessing.normalize(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self._forward_chunks(x)
        return {k: v.to("cpu").numpy() for k, v in out.items()}

    def _forward_chunks(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        size = self.max_chunk or len(x)
        parts = []
        start = 0
        while start < len(x):
            chunk = x[start:start + size]
            try:
                parts.append(self._forward(chunk))
                start += len(chunk)
            except torch.cuda.OutOfMemoryError:
                if size == 1:
                    raise ExtractError("CUDA ran out of memory even for one image; use a smaller model or --device cpu") from None
                torch.cuda.empty_cache()
                size = max(1, size // 2)
                self.max_chunk = size
                print(f"CUDA out of memory: batch size halved to {size}", file=sys.stderr)
        return {k: torch.cat([p[k] for p in parts]) for k in self.layers}

    def _forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode(), torch.autocast(
            device_type=self.device.type, dtype=self.autocast_dtype or torch.float32,
            enabled=self.autocast_dtype is not None,
        ):
            if self.tta == "hflip":
                both = self.tap(torch.cat([x, x.flip(-1)]))
                n = len(x)
                return {k: (v[:n] + v[n:]) / 2 for k, v in both.items()}
            return self.tap(x)

    def close(self):
        self.tap.close()


def resolve_layers(backbone: Backbone, layers, pool: str) -> tuple[list[str], dict[str, int]]:
    """Concrete layer names (``penultimate`` resolved) and their pooled dimensions."""
    names = resolve_layer_names(backbone, layers, pool)
    return names, layer_dims(backbone, names, pool)


def resolve_layer_names(backbone: Backbone, layers, pool: str) -> list[str]:
    """Concrete, checked layer names (``penultimate`` resolved by one traced dry run; none
    needed for named layers)."""
    if pool not in POOLS:
        raise ExtractError(f"pool must be one of {', '.join(POOLS)}; got {pool!r}")
    wanted = [s.strip() for s in (layers.split(",") if isinstance(layers, str) else (layers or [PENULTIMATE])) if s.strip()]
    resolved = []
    for layer in wanted:
        if layer == PENULTIMATE:
            with _one_thread():
                name = penultimate_layer(backbone.module, _example(backbone))
        else:
            name = layer
        if name not in resolved:
            resolved.append(name)
    check_layers(backbone.module, resolved)
    return resolved


def layer_dims(backbone: Backbone, names: list[str], pool: str) -> dict[str, int]:
    """Pooled feature length of each layer (one dry run of the tapped model)."""
    tap = LayerTap(backbone.module, names, pool)
    try:
        with torch.inference_mode(), _one_thread():
            out = tap(_example(backbone))
    finally:
        tap.close()
    dims = {k: int(v.shape[1]) for k, v in out.items()}
    for layer, dim in dims.items():
        if pool == "none" and dim > LARGE_FLAT_DIM:
            warnings.warn(f"--pool none on {layer} stores {dim} values per image; consider --pool avg", stacklevel=3)
    return dims


@contextlib.contextmanager
def _one_thread():
    """Dry runs on one image go single-threaded: on a busy CPU, every small op of a 2-thread
    OpenMP forward waits for both threads to be scheduled (measured at load 11 on 2 cores: 6-9 s
    per dry run instead of 0.7-0.9 s); on an idle machine the difference is a few milliseconds."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _example(backbone: Backbone) -> torch.Tensor:
    size = backbone.preprocessing.crop_size
    return torch.zeros(1, 3, size, size)


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
    """
    t0 = time.perf_counter()
    output = os.fspath(output)
    if dtype not in DTYPES:
        raise ExtractError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    tta = tta or "none"
    if tta not in TTAS:
        raise ExtractError(f"tta must be one of {', '.join(TTAS)}; got {tta!r}")
    if int(batch_size) < 1:
        raise ExtractError(f"batch size must be at least 1; got {batch_size}")
    table = open_source(source)
    if backbone is None:
        with _one_thread():  # small init ops: see _one_thread
            backbone = build_backbone(model, weights)
    dev = resolve_device(device)
    autocast_dtype = resolve_precision(precision, dev)
    layer_names = resolve_layer_names(backbone, layers, pool)
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
    with FileLock(output):
        for stale in glob.glob(glob.escape(output) + ".tmp-*"):
            os.unlink(stale)
        reused = _prepare_cache(output, table, spec, dims, dtype, overwrite)
        with _store.open_cache(output) as f:
            done = f["done"][:]
            complete = bool(f.attrs.get("complete", False))
            failed = int(sum(1 for r in f["failure"][:] if r))
        extracted = 0
        if not (complete and done.all()):  # a finished cache is not even opened for writing
            writer = _store.CacheWriter(output)
            try:
                extracted = _run(writer, table, writer.pending(), backbone, layer_names, pool, dev, autocast_dtype,
                                 tta, int(batch_size), workers, max_pixels, jpeg_draft, progress)
                complete = writer.finish()
                done = writer.f["done"][:]
                failed = int(sum(1 for r in writer.f["failure"][:] if r))
            finally:
                writer.close()
        left = int((done == 0).sum())
    summary = ExtractionSummary(output, len(table), extracted, reused, failed, left,
                                time.perf_counter() - t0, str(dev), int(batch_size), complete)
    if table and failed == len(table):
        raise ExtractionFailedError(f"none of the {len(table)} images could be decoded (see 'featx info {output}'); check the source")
    if strict and failed:
        raise ExtractionFailedError(f"{failed} image(s) failed and --strict was given; see 'featx info {output}' for the reasons")
    return summary


def _prepare_cache(output: str, table: SourceTable, spec: dict, dims, dtype: str, overwrite: bool) -> int:
    """Make ``output`` hold a cache for exactly ``table``'s rows; returns how many rows were
    reused from what was there. ``dims`` is the layer dimensions or a callable giving them (called
    only when a file is written)."""
    stats = [file_stat(table.absolute(i)) for i in range(len(table))]
    plan = _store.RowPlan(
        paths=list(table.paths), labels=table.labels, groups=list(table.groups), splits=list(table.splits),
        sizes=np.array([s for s, _ in stats], dtype=np.int64), mtimes=np.array([m for _, m in stats], dtype=np.int64),
    )

    def create():
        return dict(spec=spec, layer_dims=dims() if callable(dims) else dims, dtype=dtype,
                    class_names=table.class_names, source=table.describe())

    if overwrite or not os.path.exists(output):
        _store.create(output, plan, **create())
        return 0
    with _store.open_cache(output) as old:
        _store.check_compatible(output, _store.read_spec(old), spec)
        old_paths = _store._dec(old["paths"][:])
        old_done = old["done"][:]
        old_sizes, old_mtimes = old["sizes"][:], old["mtimes"][:]
        index = {p: j for j, p in enumerate(old_paths)}
        reuse = np.full(len(table), -1, dtype=np.int64)
        old_hashes = None
        for i, p in enumerate(table.paths):
            j = index.get(p)
            if j is None or not old_done[j]:
                continue
            if old_sizes[j] == plan.sizes[i] and old_mtimes[j] == plan.mtimes[i]:
                reuse[i] = j
                continue
            if plan.sizes[i] < 0:
                continue
            if old_hashes is None:
                old_hashes = _store._dec(old["sha256"][:])
            try:
                same = sha256_hex(read_bytes(table.absolute(i))) == old_hashes[j]
            except OSError:
                same = False
            if same:
                reuse[i] = j
        same_rows = (
            old_paths == plan.paths
            and np.array_equal(old["labels"][:], plan.labels)
            and _store._dec(old["groups"][:]) == plan.groups
            and _store._dec(old["splits"][:]) == plan.splits
            and np.array_equal(old_sizes, plan.sizes) and np.array_equal(old_mtimes, plan.mtimes)
            and old.attrs.get("class_names") == _store.json.dumps(list(table.class_names))
        )
        if same_rows:
            return int(old_done.astype(bool).sum())
        plan.reuse = reuse
        _store.create(output, plan, old=old, **create())
    return int((reuse >= 0).sum())


def is_worker_death(exc: BaseException) -> bool:
    """True for torch's error when a DataLoader worker process died (killed by a signal, e.g. the
    out-of-memory killer, or exited unexpectedly); raised from the loader or torch's SIGCHLD handler."""
    return isinstance(exc, RuntimeError) and "DataLoader worker" in str(exc)


def worker_died(exc: BaseException, kept: str, hint: str = "lower --workers or --max-pixels") -> WorkerDiedError:
    """The one-line error for a dead DataLoader worker; ``kept`` says what work survives."""
    what = str(exc).splitlines()[0].rstrip(". ")
    return WorkerDiedError(
        f"an image-decoding worker died ({what}); {kept}: rerun the same command to resume (if memory ran "
        f"out, {hint}; --workers 0 decodes in the main process)"
    )


def _default_workers(n_rows: int, batch_size: int, dev: torch.device) -> int:
    """Decoding worker processes when ``--workers`` is not given.

    On the CPU the answer is 0: the main process decodes each batch with a thread pool between
    two forward passes. Worker processes decoding *during* the forward pass would take cores from
    its OpenMP threads, and a preempted thread stalls the others at every barrier; taking turns
    wastes nothing (measured in BENCHMARKS.md). On a GPU the forward pass leaves the CPU free, so
    worker processes decode the next batches meanwhile.
    """
    if dev.type == "cpu" or n_rows <= batch_size:
        return 0
    return max(1, min(4, (os.cpu_count() or 2)))


def _decode_threads() -> int:
    return max(1, torch.get_num_threads())


def _threaded_batches(dataset, blocks, threads: int):
    """Batches decoded in this process, ``threads`` images at a time (Pillow's decoding and
    resizing release the GIL), one batch after the other."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="featx-decode") as pool:
        for block in blocks:
            yield _collate(list(pool.map(dataset.__getitem__, block)))


def _run(writer, table, pending, backbone, layers, pool, dev, autocast_dtype, tta, batch_size, workers,
         max_pixels, jpeg_draft, progress) -> int:
    if not len(pending):
        return 0
    from tqdm.auto import tqdm

    pre = backbone.preprocessing
    dataset = _ImageRows([table.absolute(i) for i in range(len(table))], pre.pil_transform(), max_pixels,
                         draft_size(pre, jpeg_draft))
    n_workers = _default_workers(len(pending), batch_size, dev) if workers is None else int(workers)
    if n_workers:
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=_blocks(pending, batch_size), collate_fn=_collate, num_workers=n_workers,
            pin_memory=dev.type == "cuda", prefetch_factor=4,
        )
    else:
        loader = _threaded_batches(dataset, _blocks(pending, batch_size), _decode_threads())
    computer = FeatureComputer(backbone, layers, pool, dev, autocast_dtype, tta)
    np_dtype = np.dtype(writer.f["features"][layers[0]].dtype)
    extracted = 0
    bar = tqdm(total=len(pending), unit="img", desc="extract", disable=None if progress else True, dynamic_ncols=True)
    try:
        for rows, images, hashes, bad_rows, bad_hashes, reasons in loader:
            feats = computer(images) if images is not None else {k: np.zeros((0, 1)) for k in layers}
            feats = {k: v.astype(np_dtype, copy=False) for k, v in feats.items()}
            writer.write(rows, feats, hashes, bad_rows, bad_hashes, reasons)
            extracted += len(rows)
            bar.update(len(rows) + len(bad_rows))
            if len(bad_rows):
                bar.set_postfix(failed=int(len(bad_rows)), refresh=False)
    except RuntimeError as exc:
        if not is_worker_death(exc):
            raise
        raise worker_died(exc, f"the {extracted} image(s) finished in this run are kept in {writer.path}") from None
    finally:
        bar.close()
        computer.close()
        if hasattr(loader, "close"):  # the in-process decoder: stop its threads now
            loader.close()
    return extracted
