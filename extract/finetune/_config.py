"""What a fine-tune does: a frozen config (one field per CLI flag) and the unfreezing strategy.

Parameters are checked at fit time (:meth:`FinetuneConfig.problems`), all at once, with messages
that quote the value and the allowed range, so a pipeline spec can report every problem together.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from featx.extract._errors import suggest
from featx.extract._registry import DEFAULT_MODEL
from featx.extract.finetune._errors import FinetuneConfigError

OPTIMIZERS = ("adamw", "sgd")
BN_MODES = ("auto", "frozen", "train")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
STRATEGY_FORMS = "head, partial:K, full, gradual or gradual:K"
DEFAULT_LR = {"adamw": 1e-3, "sgd": 1e-2}
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01, "sgd": 1e-4}


@dataclass(frozen=True)
class Strategy:
    """Which block groups train when.

    ``head``: only the new classifier; ``partial:K``: the top K block groups and the head;
    ``full``: everything; ``gradual[:K]``: the head first, then one more block group from the top
    every ``unfreeze_every`` epochs (up to K groups, default all).
    """

    kind: str
    k: int | None = None

    def __str__(self) -> str:
        return self.kind if self.k is None else f"{self.kind}:{self.k}"

    @classmethod
    def parse(cls, text) -> "Strategy":
        if isinstance(text, Strategy):
            return text
        raw = str(text).strip()
        kind, sep, k_text = raw.partition(":")
        kind = kind.strip().lower()
        if kind in ("head", "full") and not sep:
            return cls(kind)
        if kind == "gradual" and not sep:
            return cls(kind)
        if kind in ("partial", "gradual") and sep:
            try:
                k = int(k_text)
            except ValueError:
                k = 0
            if k < 1:
                raise FinetuneConfigError(
                    f"strategy {raw!r} needs a whole number of blocks K >= 1 after the colon (e.g. {kind}:2)"
                )
            return cls(kind, k)
        if kind == "partial":
            raise FinetuneConfigError("strategy 'partial' needs the number of top blocks to unfreeze, e.g. partial:2")
        raise FinetuneConfigError(
            f"unknown strategy {raw!r}{suggest(kind, ['head', 'partial', 'full', 'gradual'])}; use {STRATEGY_FORMS}"
        )

    def check(self, groups: list[str], arch: str) -> None:
        """K must not exceed the number of block groups of the architecture."""
        if self.k is not None and self.k > len(groups):
            shown = ", ".join(groups) if len(groups) <= 12 else ", ".join(groups[:3] + ["..."] + groups[-3:])
            raise FinetuneConfigError(
                f"strategy {self} asks for {self.k} blocks but {arch} has {len(groups)} block groups "
                f"({shown}); use K between 1 and {len(groups)} or --strategy full"
            )

    def unfrozen(self, epoch: int, n_groups: int, unfreeze_every: int = 1) -> int:
        """How many block groups (counted from the top) train in 0-based ``epoch``."""
        if self.kind == "head":
            return 0
        if self.kind == "full":
            return n_groups
        if self.kind == "partial":
            return min(int(self.k), n_groups)
        limit = n_groups if self.k is None else min(int(self.k), n_groups)
        return min(limit, epoch // max(1, int(unfreeze_every)))


@dataclass(frozen=True)
class FinetuneConfig:
    """Every setting of a fine-tune (the ``featx finetune`` flags). ``None`` means the default
    for the optimizer (``lr``: 1e-3 AdamW / 1e-2 SGD; ``weight_decay``: 0.01 / 1e-4) or for the
    model (``input_size``: its pretrained crop size) or automatic (``workers``).

    ``bn``: whether BatchNorm layers of trainable groups update their running statistics
    ('train') or keep the pretrained ones ('frozen'; their scale and shift still train); 'auto'
    keeps them unless the weights are random ('none'). Frozen groups never update them."""

    model: str = DEFAULT_MODEL
    weights: str = "default"
    strategy: str = "partial:2"
    epochs: int = 10
    lr: float | None = None
    backbone_lr_mult: float = 0.1
    layer_decay: float = 1.0
    optimizer: str = "adamw"
    weight_decay: float | None = None
    warmup: float = 1.0
    label_smoothing: float = 0.1
    mixup: float = 0.0
    augment: bool = True
    batch_size: int = 32
    val_fraction: float = 0.2
    patience: int = 3
    unfreeze_every: int = 1
    bn: str = "auto"
    input_size: int | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    workers: int | None = None

    # settings that change how fast, not what is computed: a resume may change them
    EXECUTION = ("device", "workers")

    @classmethod
    def from_params(cls, config: "FinetuneConfig | None" = None, **params) -> "FinetuneConfig":
        """``config`` (or the defaults) with ``params`` replacing fields; unknown names are refused."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in params if k not in names]
        if unknown:
            raise FinetuneConfigError(
                f"unknown fine-tuning parameter {unknown[0]!r}{suggest(unknown[0], names)}; "
                f"known: {', '.join(names)}"
            )
        return dataclasses.replace(config or cls(), **params)

    @property
    def bn_stats_train(self) -> bool:
        """Whether trainable BatchNorm layers update their running statistics ('auto': only when
        starting from random weights, which have no statistics worth keeping)."""
        if self.bn == "auto":
            return str(self.weights) == "none"
        return self.bn == "train"

    @property
    def resolved_lr(self) -> float:
        return float(self.lr) if self.lr is not None else DEFAULT_LR.get(self.optimizer, 1e-3)

    @property
    def resolved_weight_decay(self) -> float:
        if self.weight_decay is not None:
            return float(self.weight_decay)
        return DEFAULT_WEIGHT_DECAY.get(self.optimizer, 0.0)

    def problems(self) -> list[str]:
        """Every invalid setting, each as one sentence quoting the value and the allowed range."""
        out = []

        def need(ok: bool, text: str):
            if not ok:
                out.append(text)

        try:
            Strategy.parse(self.strategy)
        except FinetuneConfigError as exc:
            out.append(str(exc))
        need(_is_int(self.epochs) and self.epochs >= 1, f"epochs must be a whole number >= 1; got {self.epochs!r}")
        need(self.lr is None or (_is_real(self.lr) and self.lr > 0), f"lr must be > 0; got {self.lr!r}")
        need(_is_real(self.backbone_lr_mult) and 0 <= self.backbone_lr_mult <= 10,
             f"backbone_lr_mult must be between 0 and 10; got {self.backbone_lr_mult!r}")
        need(_is_real(self.layer_decay) and 0 < self.layer_decay <= 1,
             f"layer_decay must be in (0, 1] (1 = off); got {self.layer_decay!r}")
        need(self.optimizer in OPTIMIZERS,
             f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}{suggest(self.optimizer, OPTIMIZERS)}")
        need(self.weight_decay is None or (_is_real(self.weight_decay) and self.weight_decay >= 0),
             f"weight_decay must be >= 0; got {self.weight_decay!r}")
        need(_is_real(self.warmup) and self.warmup >= 0, f"warmup (epochs) must be >= 0; got {self.warmup!r}")
        need(_is_real(self.label_smoothing) and 0 <= self.label_smoothing < 1,
             f"label_smoothing must be in [0, 1); got {self.label_smoothing!r}")
        need(_is_real(self.mixup) and self.mixup >= 0, f"mixup (Beta alpha, 0 = off) must be >= 0; got {self.mixup!r}")
        need(_is_int(self.batch_size) and self.batch_size >= 2,
             f"batch_size must be a whole number >= 2 (BatchNorm needs 2 images); got {self.batch_size!r}")
        need(_is_real(self.val_fraction) and 0 <= self.val_fraction < 1,
             f"val_fraction must be in [0, 1) (0 = no validation, no early stopping); got {self.val_fraction!r}")
        need(_is_int(self.patience) and self.patience >= 0, f"patience must be a whole number >= 0 (0 = off); got {self.patience!r}")
        need(_is_int(self.unfreeze_every) and self.unfreeze_every >= 1,
             f"unfreeze_every must be a whole number >= 1; got {self.unfreeze_every!r}")
        need(self.bn in BN_MODES, f"bn must be one of {', '.join(BN_MODES)}; got {self.bn!r}")
        need(self.input_size is None or (_is_int(self.input_size) and 8 <= self.input_size <= 4096),
             f"input_size must be a whole number between 8 and 4096; got {self.input_size!r}")
        need(_is_int(self.seed) and self.seed >= 0, f"seed must be a whole number >= 0; got {self.seed!r}")
        need(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        need(self.workers is None or (_is_int(self.workers) and self.workers >= 0),
             f"workers must be a whole number >= 0; got {self.workers!r}")
        return out

    def check(self) -> None:
        problems = self.problems()
        if problems:
            raise FinetuneConfigError("; ".join(problems))

    def fingerprint(self) -> dict:
        """The settings that decide the result (everything but device and workers), as plain
        values: stored in the resume state and the checkpoint to detect changed arguments."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self.EXECUTION}
        d["strategy"] = str(Strategy.parse(self.strategy))
        d["lr"] = self.resolved_lr
        d["weight_decay"] = self.resolved_weight_decay
        d["bn"] = "train" if self.bn_stats_train else "frozen"
        return d


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))
