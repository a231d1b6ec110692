"""Running a fine-tune's frozen layers once, fast: the ``frozen_runtime`` setting.

- ``torch``: the whole module runs in eager torch every step (frozen groups in eval mode, no
  gradients reach them): the path fine-tuning always had.
- ``openvino``: the frozen prefix (:mod:`._prefix`) runs as a compiled OpenVINO model
  (:mod:`featx.extract.runtime._ovprefix`) without autograd, and only the trainable suffix runs
  in torch. Validation images, and training images when nothing random touches them
  (``augment`` off, no mixup), go through the prefix once per stage; the epochs train on those
  cached outputs. A stage of gradual unfreezing changes the prefix, so each stage plans (and
  compiles) its own.
- ``auto``: ``openvino`` on the CPU when OpenVINO takes the model, else ``torch`` (on CUDA:
  torch).

An image's prefix output never depends on its batch (one request per image), so the cached and
the streaming paths train the same model.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from featx.extract.finetune import _data
from featx.extract.finetune._errors import FinetuneConfigError
from featx.extract.finetune._prefix import VERIFY_ATOL, Split, plan_split
from featx.extract.images import _loading
from featx.common.progress import progress_bar
from featx.common.messages import first_line, unknown_choice

FROZEN_RUNTIMES = ("auto", "openvino", "torch")
CACHE_BYTES = 2 << 30  # prefix outputs of one data set kept in memory at most


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class FrozenPrefix:
    """The prefix of the current stage: its :class:`Split`, the runner (``__call__`` on
    normalised images) and the cached outputs of data sets, rebuilt by :meth:`update` when the
    number of trainable groups changes."""

    def __init__(self, module, freezer, runtime: str, dev: torch.device, pre, key_parts: dict,
                 log=None, cache: bool = True):
        if runtime not in FROZEN_RUNTIMES:
            raise FinetuneConfigError(unknown_choice("frozen_runtime", runtime, FROZEN_RUNTIMES))
        if runtime == "openvino" and dev.type != "cpu":
            raise FinetuneConfigError(f"--frozen-runtime openvino runs on the CPU only, not on {dev}; "
                                      "use --device cpu or --frozen-runtime auto")
        self.module, self.freezer, self.dev, self.pre = module, freezer, dev, pre
        self.size = int(pre.crop_size)
        self.asked = runtime
        self.active = runtime == "openvino" or (runtime == "auto" and dev.type == "cpu")
        self.key_parts, self.log, self.allow_cache = key_parts, log, cache
        self.n_trainable: int | None = None
        self.split: Split | None = None
        self.runner = None
        self._cached: dict[int, tuple] = {}

    @property
    def on(self) -> bool:
        return self.runner is not None

    def update(self) -> None:
        """Plan (and compile) the prefix of the freezer's current stage, once per stage."""
        n = self.freezer.n_trainable
        if not self.active or n == self.n_trainable:
            return
        self.n_trainable, self.split, self.runner, self._cached = n, None, None, {}
        self.freezer.train()
        split = plan_split(self.module, self.freezer.frozen_keys(n), self.size)
        self.module.eval()
        if split is None:
            return
        gap = split.verify(self.module, self.size)
        if not gap <= VERIFY_ATOL:
            self._refuse(f"the model's forward cannot be cut after {split.boundary} (split output differs by {gap:.2g})")
            return
        t0 = time.perf_counter()
        try:
            runner = self._openvino(split)
        except Exception as exc:  # missing OpenVINO, a refused conversion: one line, then torch
            first = first_line(exc, None)
            self._refuse(f"OpenVINO cannot run the frozen layers ({first[:200]})")
            return
        self.split, self.runner = split, runner
        if self.log:
            how = "loaded" if runner.from_cache else "compiled"
            self.log(f"frozen layers {split.describe()} run through OpenVINO ({how} in {time.perf_counter() - t0:.1f}s); "
                     f"torch trains the rest")

    def _openvino(self, split: Split):
        from featx.extract.runtime._ovprefix import OpenVINOPrefix

        parts = {**self.key_parts, "prefix_sha256": split.digest(self.module), "units": list(split.units)}
        return OpenVINOPrefix(self.module, split.boundary, self.size, parts)

    def _refuse(self, why: str) -> None:
        if self.asked == "openvino":
            raise FinetuneConfigError(f"{why}; use --frozen-runtime torch")
        _warn(f"{why}; the frozen layers run in torch")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Prefix outputs of normalised images ``x`` (on the device)."""
        return self.runner(x).to(self.dev)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of normalised images ``x``: the prefix without autograd, then the suffix."""
        return self.split.suffix(self.module, self(x))

    def suffix(self, boundary: torch.Tensor) -> torch.Tensor:
        return self.split.suffix(self.module, boundary)

    def cacheable(self, nbytes_per_image: int, n: int) -> bool:
        return self.allow_cache and nbytes_per_image * n <= CACHE_BYTES

    def cached_batches(self, dataset, batches, workers: int, progress: bool, desc: str):
        """(prefix outputs, labels, failed) per batch of ``batches``, from the outputs of every
        image of ``dataset`` computed once this stage (as the image loader would give them)."""
        feats, ok, reasons = self._cache(dataset, workers, progress, desc)
        for batch in batches:
            pos = [p for p in batch if ok[p]]
            bad = [(p, reasons[p]) for p in batch if not ok[p]]
            labels = torch.as_tensor(dataset.labels[pos], dtype=torch.int64)
            yield (feats[pos] if pos else None), labels, bad

    def _cache(self, dataset, workers: int, progress: bool, desc: str):
        key = id(dataset)
        if key not in self._cached:
            n = len(dataset)
            feats = torch.zeros((n, *self.split.shape), dtype=torch.float32)
            ok = np.zeros(n, dtype=bool)
            reasons: dict[int, str] = {}
            order = _data.epoch_batches(n, 32, None, 0)
            loader = _loading.make_loader(dataset, order, workers, False)
            bar = progress_bar(n, desc, progress, unit="img", leave=False)
            try:
                for positions, images, _h, bad, _bh, why in loader:
                    pos = np.asarray(positions, dtype=np.int64)
                    if images is not None and len(pos):
                        x = self.pre.normalize(images.to(self.dev))
                        feats[torch.as_tensor(pos)] = self.runner(x).to("cpu")
                        ok[pos] = True
                    for p, r in zip(np.asarray(bad).tolist(), why):
                        reasons[int(p)] = r
                    bar.update(len(pos) + len(bad))
            finally:
                bar.close()
                if hasattr(loader, "close"):
                    loader.close()
            self._cached[key] = (feats.to(self.dev), ok, reasons)
        return self._cached[key]
