"""Block groups: the units a strategy freezes and unfreezes, bottom to top, head excluded.

- timm models: timm's own coarse ``group_matcher`` (the grouping timm uses for layer-wise LR
  decay). For ``tf_efficientnet_lite0``: ``conv_stem+bn1``, ``blocks.0`` ... ``blocks.5`` and
  ``blocks.6+conv_head+bn2`` (the top group).
- torchvision ResNets (``layer1`` ... ``layer4``): ``conv1+bn1``, ``layer1`` ... ``layer4``.
- anything else: the top-level children in order, where a child holding most of the weights
  (torchvision's ``features``, ViT's ``encoder.layers``) is split into its own children.

A frozen group has ``requires_grad=False`` and is kept in eval mode while training, so its
BatchNorm running statistics (and dropout) stay exactly as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from torch import nn

from featx.extract.models._layers import classifier_name
from featx.extract.finetune._errors import FinetuneError


@dataclass(frozen=True)
class BlockGroup:
    """One unit of freezing: a name and the state_dict keys (parameters and buffers) it owns."""

    name: str
    keys: tuple[str, ...]


def find_head(module: nn.Module) -> str:
    """Module path of the classifier (timm's ``get_classifier`` or the last Linear)."""
    name = classifier_name(module)
    if not name:
        raise FinetuneError(
            f"{type(module).__name__} has no Linear classifier to replace; fine-tuning needs a classification model"
        )
    return name


def replace_head(module: nn.Module, num_classes: int) -> str:
    """Give ``module`` a new, freshly initialised classifier with ``num_classes`` outputs (timm's
    ``reset_classifier`` where there is one, else the last Linear swapped). Returns its path."""
    if hasattr(module, "reset_classifier") and hasattr(module, "get_classifier"):
        module.reset_classifier(num_classes)
        return find_head(module)
    name = find_head(module)
    old = module.get_submodule(name)
    parent_name, _, attr = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    setattr(parent, attr, new.to(old.weight.device, old.weight.dtype))
    return name


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def _tensor_keys(module: nn.Module, prefix: str = "") -> list[str]:
    pre = prefix + "." if prefix else ""
    return [pre + n for n, _ in chain(module.named_parameters(), module.named_buffers())]


def block_groups(module: nn.Module, head: str) -> list[BlockGroup]:
    """The block groups of ``module`` from the input to the top; every parameter and buffer
    outside the head belongs to exactly one."""
    keys = [k for k in _tensor_keys(module) if not _under(k, head)]
    if hasattr(module, "group_matcher"):
        owner = _timm_owner(module, keys)
    elif all(hasattr(module, f"layer{i}") for i in range(1, 5)):
        owner = _prefix_owner(keys, ["layer1", "layer2", "layer3", "layer4"])
    else:
        owner = _generic_owner(module, keys)
    order = list(dict.fromkeys(sorted(set(owner.values()))))
    groups = []
    for ordinal in order:
        members = tuple(k for k in keys if owner[k] == ordinal)
        groups.append(BlockGroup(_group_name(members, keys, owner), members))
    if not groups:
        raise FinetuneError(f"cannot split {type(module).__name__} into block groups; use --strategy head or full")
    return groups


def _group_name(members, keys, owner) -> str:
    """The shortest module paths that cover exactly the group: ``blocks.6+conv_head+bn2``."""
    group = owner[members[0]]
    names: list[str] = []
    for key in members:
        parts = key.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if all(owner[k] == group for k in keys if _under(k, prefix)):
                break
        if not any(_under(prefix, n) for n in names):
            names.append(prefix)
    if len(names) > 4:
        return f"{names[0]}..{names[-1]}"
    return "+".join(names)


def _timm_owner(module: nn.Module, keys: list[str]) -> dict[str, int]:
    from timm.models import group_parameters

    class _Keys:  # timm's public grouping walks named_parameters(); buffers are grouped by name too
        @staticmethod
        def named_parameters():
            return ((k, None) for k in keys)

    return dict(group_parameters(_Keys(), module.group_matcher(coarse=True), reverse=True))


def _prefix_owner(keys: list[str], prefixes: list[str]) -> dict[str, int]:
    """Group i+1 for keys under prefixes[i], group 0 (the stem) for everything else."""
    owner = {}
    for k in keys:
        owner[k] = next((i + 1 for i, p in enumerate(prefixes) if _under(k, p)), 0)
    return owner


def _generic_owner(module: nn.Module, keys: list[str]) -> dict[str, int]:
    """Top-level children in order; while there are fewer than 4 units, one holding most of the
    weights (torchvision's ``features``, ViT's ``encoder.layers``) is split into its children."""
    modules = dict(module.named_modules())
    keyset = set(keys)

    def size(prefix: str) -> int:
        m = modules[prefix]
        return sum(t.numel() for n, t in chain(m.named_parameters(prefix=prefix), m.named_buffers(prefix=prefix))
                   if n in keyset)

    units = [n for n, _ in module.named_children() if size(n) > 0]
    total = sum(size(u) for u in units) or 1
    while 0 < len(units) < 4:
        biggest = max(units, key=size)
        children = [f"{biggest}.{n}" for n, _ in modules[biggest].named_children() if size(f"{biggest}.{n}") > 0]
        if size(biggest) * 2 <= total or len(children) < 2:
            break
        i = units.index(biggest)
        units[i:i + 1] = children
    owner = {}
    for k in keys:
        match = [i for i, u in enumerate(units) if _under(k, u)]
        owner[k] = max(match, key=lambda i: len(units[i])) if match else 0  # loose tensors join the first unit
    return owner


class Freezer:
    """Applies "the top ``n`` groups train" to a module: ``requires_grad`` and train/eval modes.

    ``bn_stats=False`` also keeps the running statistics of trainable BatchNorm layers fixed
    (eval mode; their scale and shift still train): with few images, statistics re-estimated on
    augmented training batches drift from those of the centre-cropped images features are later
    extracted from.
    """

    def __init__(self, module: nn.Module, groups: list[BlockGroup], head: str, bn_stats: bool = True):
        self.module = module
        self.groups = groups
        self.head = head
        self.bn_stats = bn_stats
        self.n_trainable = len(groups)

    def frozen_keys(self, n_trainable: int) -> set[str]:
        frozen = self.groups[: len(self.groups) - n_trainable]
        return {k for g in frozen for k in g.keys}

    def set_trainable(self, n_trainable: int) -> None:
        self.n_trainable = n_trainable
        frozen = self.frozen_keys(n_trainable)
        for name, p in self.module.named_parameters():
            p.requires_grad_(name not in frozen)

    def train(self) -> None:
        """Train mode for the trainable part; every module whose tensors are all frozen in eval
        mode (BatchNorm keeps its running statistics, dropout is off)."""
        self.module.train()
        if not self.bn_stats:
            for m in self.module.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        frozen = self.frozen_keys(self.n_trainable)
        if not frozen:
            return

        def visit(prefix: str, m: nn.Module):
            keys = _tensor_keys(m, prefix)
            if keys and all(k in frozen for k in keys):
                m.eval()
                return
            for name, child in m.named_children():
                visit(f"{prefix}.{name}" if prefix else name, child)

        visit("", self.module)

    def trainable_names(self) -> list[str]:
        return [g.name for g in self.groups[len(self.groups) - self.n_trainable:]] if self.n_trainable else []



def strategy_problems(source: str, arch: str, strategies, *, where: str = "",
                      full: str = "--strategy full") -> list[str]:
    """One line per strategy of ``strategies`` that the architecture ``source``/``arch`` cannot
    take (``partial:K`` or ``gradual:K`` with K above its number of block groups), read from the
    bare architecture: no weights are loaded. Checked before any work."""
    from featx.extract.finetune._config import Strategy
    from featx.extract.finetune._errors import FinetuneConfigError
    from featx.extract.models._backbones import build_architecture

    if source not in ("timm", "torchvision"):
        return []
    module = build_architecture(source, arch)
    groups = [g.name for g in block_groups(module, find_head(module))]
    problems = []
    for text in strategies:
        try:
            Strategy.parse(text).check(groups, arch, full)
        except FinetuneConfigError as exc:
            problems.append(f"{where}: {exc}" if where else str(exc))
    return problems
