"""What a fine-tune does: its settings (each defined once, as an Option), the frozen config
(one field per setting) and the unfreezing strategy.

Every setting is an :class:`~featx.common.Option` in :data:`FINETUNE_OPTIONS` (name, default,
allowed values, help): :class:`FinetuneConfig` takes its defaults from them, ``featx finetune``
builds its flags from them, and :meth:`FinetuneConfig.problems` checks values against them.
Device, precision and workers are extraction's own Options (``featx.extract``). Parameters are
checked at fit time, all at once, with messages that quote the value and the allowed range, so a
pipeline spec can report every problem together.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass

from featx.common.option_lists import ListOption
from featx.common.options import Option, OptionError
from featx.common.settings import settings_class
from featx.extract import DEVICE, PRECISION, WORKERS
from featx.common.messages import suggest
from featx.extract.models._registry import DEFAULT_MODEL
from featx.extract.finetune._errors import FinetuneConfigError

STRATEGY_FORMS = "head, partial:K, full, gradual or gradual:K"
DEFAULT_LR = {"adamw": 1e-3, "sgd": 1e-2}
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01, "sgd": 1e-4}


@dataclass(frozen=True)
class Setting(Option):
    """An :class:`Option` of a fine-tune, checked by :func:`problem`: bounds may be open
    (``open_min``: ``lr > 0``); ``aside`` follows the name and ``note`` the rule in the message
    ("warmup (epochs) must be >= 0"). On the command line a value is only converted to its kind,
    so that :meth:`FinetuneConfig.check` reports every out-of-range value at once, in one line."""

    open_min: bool = False
    open_max: bool = False
    aside: str = ""
    note: str = ""

    def _check(self, value):
        text = problem(self, value)
        if text:
            raise OptionError(text)
        return value

    def _parse_cli(self, text: str):
        try:
            return self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {_kind_words(self)}, got {text!r}") from None


STRATEGY = Setting("strategy", "partial:2", "head (backbone frozen), partial:K (top K block groups train), full, gradual[:K] "
                   "(one more group from the top every --unfreeze-every epochs)")
EPOCHS = Setting("epochs", 10, "maximum number of epochs", kind=int, minimum=1)
LR = Setting("lr", None, f"head learning rate (default {DEFAULT_LR['adamw']:g} for adamw, {DEFAULT_LR['sgd']:g} for sgd)",
             kind=float, minimum=0, open_min=True)
BACKBONE_LR_MULT = Setting("backbone_lr_mult", 0.1, "top block group's learning rate as a fraction of --lr",
                           kind=float, minimum=0, maximum=10)
LAYER_DECAY = Setting("layer_decay", 1.0, "each lower block group trains this many times slower than the one above",
                      kind=float, minimum=0, maximum=1, open_min=True, note=" (1 = off)")
OPTIMIZER = Setting("optimizer", "adamw", "adamw or sgd with Nesterov momentum 0.9", choices=("adamw", "sgd"))
WEIGHT_DECAY = Setting("weight_decay", None, f"weight decay, none on biases and norms (default "
                       f"{DEFAULT_WEIGHT_DECAY['adamw']:g} adamw, {DEFAULT_WEIGHT_DECAY['sgd']:g} sgd)", kind=float, minimum=0)
WARMUP = Setting("warmup", 1.0, "epochs of linear warmup before the cosine decay", kind=float, minimum=0, aside=" (epochs)")
LABEL_SMOOTHING = Setting("label_smoothing", 0.1, "label smoothing of the training loss", kind=float, minimum=0, maximum=1,
                          open_max=True)
MIXUP = Setting("mixup", 0.0, "mixup Beta(alpha, alpha); 0 = off, 0.2 is typical", kind=float, minimum=0,
                aside=" (Beta alpha, 0 = off)")
AUGMENT = Setting("augment", True, "random resized crop, flip and colour jitter of the training images; --no-augment: none",
                  kind=bool)
BATCH_SIZE = Setting("batch_size", 32, "images per training step", kind=int, minimum=2,
                     note=" (BatchNorm needs 2 images)")
VAL_FRACTION = Setting("val_fraction", 0.2, "share of each class held out for early stopping (0 = none)", kind=float,
                       minimum=0, maximum=1, open_max=True, note=" (0 = no validation, no early stopping)")
PATIENCE = Setting("patience", 3, "stop after this many epochs without a lower validation loss (0 = off)", kind=int,
                   minimum=0, note=" (0 = off)")
UNFREEZE_EVERY = Setting("unfreeze_every", 1, "gradual: epochs per unfreezing stage", kind=int, minimum=1)
BN = Setting("bn", "auto", "BatchNorm running statistics of trainable groups: frozen (keep the pretrained ones), train, "
             "or auto (frozen unless --weights none)", choices=("auto", "frozen", "train"))
INPUT_SIZE = Setting("input_size", None, "train (and store) at this crop size instead of the model's", kind=int,
                     minimum=8, maximum=4096)
FROZEN_RUNTIME = Setting("frozen_runtime", "auto", "where the frozen layers run: openvino (compiled once per stage, "
                         "without autograd; cached when --no-augment), torch (the whole model in eager torch), or auto "
                         "(openvino on the CPU, torch on a GPU)", choices=("auto", "openvino", "torch"))
SEED = Setting("seed", 0, "seed of the split, the head, shuffling and augmentation", kind=int, minimum=0)

# the starting model, as ``featx extract`` takes it (checked when the model is built)
_START_MODEL = Option("model", DEFAULT_MODEL, "the model to start from")
_START_WEIGHTS = Option("weights", "default", "its weights")
# every setting but the starting model (``model``/``weights``, as ``featx extract`` takes them), in
# FinetuneConfig's order; device, precision and workers are extraction's
FINETUNE_OPTIONS = (STRATEGY, EPOCHS, LR, BACKBONE_LR_MULT, LAYER_DECAY, OPTIMIZER, WEIGHT_DECAY, WARMUP, LABEL_SMOOTHING,
                    MIXUP, AUGMENT, BATCH_SIZE, VAL_FRACTION, PATIENCE, UNFREEZE_EVERY, BN, INPUT_SIZE, SEED,
                    DEVICE, PRECISION, WORKERS, FROZEN_RUNTIME)
OPTIMIZERS = OPTIMIZER.choices


@dataclass(frozen=True)
class _StrategiesOption(ListOption):
    """A list of strategies, each in a form :meth:`Strategy.parse` reads; ``check`` returns them
    normalised (``"partial:2"``)."""

    def _check(self, value):
        out = super()._check(value)
        try:
            return tuple(dict.fromkeys(str(Strategy.parse(x)) for x in out))
        except FinetuneConfigError as exc:
            raise OptionError(str(exc)) from None

    @property
    def doc(self) -> str:
        return f"array of strategies ({STRATEGY_FORMS})"


# the transfer study's settings (``featx run``'s [finetune] section): which strategies to compare
# and the same architecture trained from random init as the baseline
STRATEGIES = _StrategiesOption("strategies", ("head", "partial:2"), "Fine-tuning strategies to compare, each trained on the "
                               "training part only: head, partial:K, gradual[:K], full.")
SCRATCH = Option("scratch", True, "Also train the same architecture from random init (strategy full, the same epochs, "
                 "patience and learning rate) as the baseline that shows whether pretraining helps.", kind=bool)
BN_MODES = BN.choices


def problem(opt: Option, value) -> str | None:
    """Why ``value`` is not allowed for ``opt`` (one sentence quoting it), or None when it is.

    Reads the option's kind, choices and bounds (open ones too, for a :class:`Setting`):
    ``"epochs must be a whole number >= 1; got 0"``."""
    if value is None and opt.nullable:
        return None
    if opt.choices:
        ok = value in opt.choices
    elif opt.kind is bool:
        ok = isinstance(value, bool)
    elif opt.kind is int:
        ok = _is_int(value) and _within(opt, value)
    elif opt.kind is float:
        ok = _is_real(value) and _within(opt, value)
    else:
        ok = isinstance(value, str)
    if ok:
        return None
    hint = suggest(value, opt.choices) if opt.choices else ""
    return f"{opt.name}{getattr(opt, 'aside', '')} must be {_rule(opt)}{getattr(opt, 'note', '')}; got {value!r}{hint}"


def _rule(opt: Option) -> str:
    if opt.choices:
        return f"one of {', '.join(opt.choices)}"
    if opt.kind not in (int, float):
        return _kind_words(opt)
    lo, hi = opt.minimum, opt.maximum
    open_lo, open_hi = getattr(opt, "open_min", False), getattr(opt, "open_max", False)
    if lo is not None and hi is not None:
        bounds = (f"in {'(' if open_lo else '['}{lo:g}, {hi:g}{')' if open_hi else ']'}" if open_lo or open_hi
                  else f"between {lo:g} and {hi:g}")
    elif lo is not None:
        bounds = f"{'>' if open_lo else '>='} {lo:g}"
    elif hi is not None:
        bounds = f"{'<' if open_hi else '<='} {hi:g}"
    else:
        bounds = ""
    if opt.kind is int:
        return f"a whole number {bounds}".rstrip()
    return bounds or "a number"


def _within(opt: Option, value) -> bool:
    lo, hi = opt.minimum, opt.maximum
    if lo is not None and (value <= lo if getattr(opt, "open_min", False) else value < lo):
        return False
    return hi is None or (value < hi if getattr(opt, "open_max", False) else value <= hi)


def _kind_words(opt: Option) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number"}.get(opt.kind, "a string")


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

    def check(self, groups: list[str], arch: str, full: str = "--strategy full") -> None:
        """K must not exceed the number of block groups of the architecture (``full``: how the
        fix is written where the strategy was given)."""
        if self.k is not None and self.k > len(groups):
            shown = ", ".join(groups) if len(groups) <= 12 else ", ".join(groups[:3] + ["..."] + groups[-3:])
            raise FinetuneConfigError(
                f"strategy {self} asks for {self.k} blocks but {arch} has {len(groups)} block groups "
                f"({shown}); use K between 1 and {len(groups)} or {full}"
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


class _ConfigMethods:
    """What :class:`FinetuneConfig` does beyond holding its fields (defaults, checks, fingerprint)."""

    # settings that change how fast, not what is computed: a resume may change them
    EXECUTION = ("device", "workers", "frozen_runtime")

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
        for opt in FINETUNE_OPTIONS:
            value = getattr(self, opt.name)
            if opt is STRATEGY:
                try:
                    Strategy.parse(value)
                except FinetuneConfigError as exc:
                    out.append(str(exc))
            elif (text := problem(opt, value)) is not None:
                out.append(text)
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


_CONFIG_DOC = """Every setting of a fine-tune (the ``featx finetune`` flags): ``model``
and ``weights`` (as :func:`featx.extract.extract` takes them), then one field per Option of
:data:`FINETUNE_OPTIONS`, defaulting to the Option's default. ``None`` means the default for
the optimizer (``lr``: 1e-3 AdamW / 1e-2 SGD; ``weight_decay``: 0.01 / 1e-4) or for the model
(``input_size``: its pretrained crop size) or automatic (``workers``).

``bn``: whether BatchNorm layers of trainable groups update their running statistics
('train') or keep the pretrained ones ('frozen'; their scale and shift still train); 'auto'
keeps them unless the weights are random ('none'). Frozen groups never update them."""

# the fields are the Options, in order, after the starting model
FinetuneConfig = settings_class("FinetuneConfig", (_START_MODEL, _START_WEIGHTS, *FINETUNE_OPTIONS), _CONFIG_DOC,
                                base=_ConfigMethods, module=__name__, typed=True)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))
