"""The one image-loading path, shared by extraction, fine-tuning and prediction: the image-rows
dataset (read, hash, decode, resize/crop or augment), collation into channels_last uint8 batches,
fixed-block batching, the worker policy and the loader built from them.

On the CPU the default is no worker process: the main process decodes with a thread pool
(Pillow's decoding and resizing release the GIL). With the torch runtime the pool decodes each
batch between two forward passes: decoding *during* the forward pass would take cores from its
OpenMP threads, and a preempted thread stalls the others at every barrier (measured in
BENCHMARKS.md). OpenVINO's streams run independent single-threaded requests, so with it the
pool decodes the next ``OPENVINO_AHEAD`` batches while the current one is computed. On a GPU the forward pass leaves the CPU free, so up to 4 worker processes decode
the next batches meanwhile.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from featx.extract._errors import WorkerDiedError
from featx.extract.images._images import DEFAULT_MAX_PIXELS, decode_rgb, read_bytes, sha256_hex
from featx.extract._options import JPEG_DRAFT, MAX_PIXELS, WORKERS  # noqa: F401 (re-exported)
from featx.common.messages import first_line

MAX_WORKERS = 4
OPENVINO_AHEAD = 1  # batches decoding while OpenVINO computes one (measured in BENCHMARKS.md section 9)
PREFETCH_BATCHES = 4  # per worker process
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


def hwc_pixels(out) -> np.ndarray:
    """A transform's output (PIL image, HWC array or CHW uint8 tensor) as an HWC uint8 array."""
    if isinstance(out, torch.Tensor):
        return out.permute(1, 2, 0).numpy()
    return np.asarray(out)


class ImageRows(torch.utils.data.Dataset):
    """Position -> (position, uint8 HWC array or None, sha256 or "", failure reason or "").

    ``transform`` turns the decoded PIL RGB image into pixels: an object with ``array(img)`` (the
    backbone's :class:`PilResizeCrop`) or a callable returning a PIL image, an HWC array or a CHW
    tensor. Arrays (not tensors) cross the worker boundary and are stacked once per batch into an
    NHWC block, the channels_last layout the model runs in. ``hashes=False`` skips the sha256
    (fine-tuning and prediction need no cache key). Subclasses change how one image's pixels are
    made by overriding :meth:`pixels` (fine-tuning seeds its augmentation there).
    """

    def __init__(self, files: list[str], transform, max_pixels: int = DEFAULT_MAX_PIXELS,
                 draft_size: int | None = None, *, hashes: bool = True):
        self.files = files
        self.transform = transform
        self.max_pixels = max_pixels
        self.draft_size = draft_size
        self.hashes = hashes

    def __len__(self) -> int:
        return len(self.files)

    def pixels(self, img, position: int) -> np.ndarray:
        array = getattr(self.transform, "array", None)
        return array(img) if array is not None else hwc_pixels(self.transform(img))

    def __getitem__(self, position: int):
        try:
            data = read_bytes(self.files[position])
        except OSError as exc:
            return position, None, "", f"cannot read file: {exc.strerror or exc}"
        digest = sha256_hex(data) if self.hashes else ""
        try:
            img = decode_rgb(data, max_pixels=self.max_pixels, draft_size=self.draft_size)
            return position, self.pixels(img, position), digest, ""
        except ValueError as exc:
            return position, None, digest, str(exc)
        except Exception as exc:  # a transform failing on an odd image must not kill the worker
            return position, None, digest, f"cannot preprocess image: {type(exc).__name__}: {exc}"[:250]


def collate(items):
    """One batch: positions, uint8 images (N, 3, H, W) stored channels_last (one copy into the
    shared-memory block), hashes, and the failed positions with their hashes and reasons."""
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


def blocks(pending: np.ndarray, batch_size: int) -> list[list[int]]:
    """Pending rows grouped by fixed blocks of the row space, so a resumed job forms the same
    batches as an uninterrupted one (identical results, batch for batch)."""
    if not len(pending):
        return []
    block_ids = pending // batch_size
    cuts = np.flatnonzero(np.diff(block_ids)) + 1
    return [chunk.tolist() for chunk in np.split(pending, cuts)]


def default_workers(n_rows: int, batch_size: int, device="auto") -> int:
    """Decoding worker processes when ``--workers`` is not given (see the module docstring):
    0 on the CPU or for a single batch, else up to 4. ``device`` is where the batches go (a
    ``torch.device`` or a name; ``auto`` resolves as ``--device auto`` does)."""
    if not isinstance(device, torch.device):
        from featx.extract.runtime._compute import resolve_device

        device = resolve_device(device) if device == "auto" else torch.device(device)
    if device.type == "cpu" or n_rows <= batch_size:
        return 0
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 2)))


def decode_threads() -> int:
    """Threads decoding one batch in the main process (as many as torch computes with)."""
    return max(1, torch.get_num_threads())


def threaded_batches(dataset, batches, threads: int, ahead: int = 0):
    """Batches decoded in this process, ``threads`` images at a time. ``ahead=0``: one batch
    after the other, so decoding and the forward pass take turns on the cores (torch's OpenMP
    threads stall when preempted); ``ahead=N``: the next N batches decode while the caller
    computes (for runtimes whose threads run independent requests, like OpenVINO's streams)."""
    import collections

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="featx-decode") as pool:
        queued = collections.deque()
        try:
            for batch in batches:
                queued.append([pool.submit(dataset.__getitem__, i) for i in batch])
                if len(queued) > ahead:
                    yield collate([f.result() for f in queued.popleft()])
            while queued:
                yield collate([f.result() for f in queued.popleft()])
        finally:
            for futures in queued:  # abandoned early: drop what has not started
                for f in futures:
                    f.cancel()


def make_loader(dataset, batches: list[list[int]], workers: int, pin_memory: bool = False, ahead: int = 0):
    """Iterate ``batches`` of ``dataset`` as :func:`collate` tuples: decoded in this process
    (``workers=0``: a generator to ``close()`` when abandoned; ``ahead``: see
    :func:`threaded_batches`) or by DataLoader worker processes."""
    if not workers:
        return threaded_batches(dataset, batches, decode_threads(), ahead)
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batches, collate_fn=collate, num_workers=int(workers), pin_memory=pin_memory,
        prefetch_factor=PREFETCH_BATCHES,
    )


def is_worker_death(exc: BaseException) -> bool:
    """True for torch's error when a DataLoader worker process died (killed by a signal, e.g. the
    out-of-memory killer, or exited unexpectedly); raised from the loader or torch's SIGCHLD handler."""
    return isinstance(exc, RuntimeError) and "DataLoader worker" in str(exc)


def stop_workers(batches) -> None:
    """Shut down a DataLoader iterator's workers after one of them died. While the others are
    joined, their exits make torch's SIGCHLD handler raise the dead worker's error again, inside the
    shutdown; the shutdown still unregisters the workers (its ``finally``), so that second error is
    the same news and is dropped here, and no later signal raises it a third time."""
    shutdown = getattr(batches, "_shutdown_workers", None)
    if shutdown is None:
        return
    try:
        shutdown()
    except RuntimeError as again:
        if not is_worker_death(again):
            raise


def worker_died(exc: BaseException, kept: str, hint: str = "lower --workers or --max-pixels") -> WorkerDiedError:
    """The one-line error for a dead DataLoader worker; ``kept`` says what work survives."""
    what = first_line(exc, None).rstrip(". ")
    return WorkerDiedError(
        f"an image-decoding worker died ({what}); {kept}: rerun the same command to resume (if memory ran "
        f"out, {hint}; --workers 0 decodes in the main process)"
    )
