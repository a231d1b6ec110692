"""Optimizer and schedule: discriminative learning rates per block group, warmup + cosine.

The head trains at ``lr``; the top block group at ``lr * backbone_lr_mult`` and each group below
it ``layer_decay`` times slower. Biases and normalisation weights get no weight decay. Every
group (frozen ones too) is in the optimizer from the start, so gradual unfreezing only flips
``requires_grad`` and the optimizer's state_dict keeps one shape for resuming; a frozen
parameter has no gradient, and torch's optimizers leave such parameters untouched.

The learning rate is a pure function of the global step (``base_lr * lr_factor(step)``), so the
schedule has no state beyond the step count.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from featx.extract.finetune._config import FinetuneConfig
from featx.extract.finetune._groups import BlockGroup


def param_groups(module: nn.Module, groups: list[BlockGroup], head: str, cfg: FinetuneConfig) -> list[dict]:
    lr = cfg.resolved_lr
    wd = cfg.resolved_weight_decay
    params = dict(module.named_parameters())
    units: list[tuple[str, list[str], float]] = []
    n = len(groups)
    for i, g in enumerate(groups):
        depth = n - 1 - i  # 0 for the top group
        units.append((g.name, [k for k in g.keys if k in params], lr * cfg.backbone_lr_mult * cfg.layer_decay ** depth))
    units.append(("head", [k for k in params if k == head or k.startswith(head + ".")], lr))
    out = []
    for name, keys, group_lr in units:
        decay = [params[k] for k in keys if params[k].ndim > 1]
        no_decay = [params[k] for k in keys if params[k].ndim <= 1]
        for plist, this_wd, suffix in ((decay, wd, ""), (no_decay, 0.0, ":no_decay")):
            if plist:
                out.append({"params": plist, "lr": group_lr, "base_lr": group_lr, "weight_decay": this_wd,
                            "name": name + suffix})
    return out


def make_optimizer(groups: list[dict], cfg: FinetuneConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.resolved_lr, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(groups, lr=cfg.resolved_lr)


def lr_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warmup from 1/warmup to 1, then cosine down to 0 at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * factor
