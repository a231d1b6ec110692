"""What the pretrained source model makes of target images, before any fine-tuning: its own
source-class probabilities (ImageNet softmax of the model's classifier), its pooled penultimate
features, and how far the inputs of its last BatchNorm sit from that layer's running statistics.

These are arrays only; what they say about domain similarity is featx.classify's to judge
(``featx.classify.transfer.domain_similarity``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from featx.extract.finetune._groups import find_head
from featx.extract.images import _loading
from featx.extract.images._sources import SourceTable, open_source
from featx.extract.models._backbones import build_backbone
from featx.common.progress import progress_bar

#: images probed by default: enough for a stable mean, cheap on a CPU
PROBE_IMAGES = 64


@dataclass
class SourceProbe:
    """``probs`` (n, C) source-class softmax; ``features`` (n, D) the classifier's input;
    ``bn_mean``/``bn_var`` (channels,) the per-channel mean and variance of the last BatchNorm's
    input over the images; ``bn_running_mean``/``bn_running_var`` its stored source statistics;
    ``rows`` the table rows probed; ``bn_layer`` that layer's name."""

    probs: np.ndarray
    features: np.ndarray
    bn_mean: np.ndarray
    bn_var: np.ndarray
    bn_running_mean: np.ndarray
    bn_running_var: np.ndarray
    rows: np.ndarray
    bn_layer: str


def probe_rows(n: int, max_images: int = PROBE_IMAGES, seed: int = 0) -> np.ndarray:
    """A seeded, sorted sample of at most ``max_images`` of ``n`` rows."""
    if n <= max_images:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_images, replace=False))


def probe_source_model(source, model: str = "efficientnet_lite0", weights: str = "default", *, rows=None,
                       max_images: int = PROBE_IMAGES, seed: int = 0, batch_size: int = 32,
                       progress: bool = False) -> SourceProbe:
    """Run the pretrained ``model`` (with its own source classifier) over a seeded sample of
    ``source`` (folder, CSV manifest or SourceTable; ``rows``: only those table rows), in eval
    mode without autograd."""
    table = source if isinstance(source, SourceTable) else open_source(source)
    pool = np.arange(len(table)) if rows is None else np.asarray(rows, dtype=np.int64)
    chosen = pool[probe_rows(len(pool), max_images, seed)]
    backbone = build_backbone(model, weights)
    module = backbone.module.eval()
    head = module.get_submodule(find_head(module))
    bn_name, bn = _last_batchnorm(module)
    taps: dict = {}
    hooks = [head.register_forward_pre_hook(lambda _m, args: taps.setdefault("features", []).append(args[0].flatten(1))),
             bn.register_forward_pre_hook(lambda _m, args: taps.setdefault("bn", []).append(_channel_moments(args[0])))]
    pre = backbone.preprocessing
    files = [table.absolute(int(i)) for i in chosen]
    dataset = _loading.ImageRows(files, pre.pil_transform(), draft_size=_loading.draft_size(pre, True), hashes=False)
    loader = _loading.make_loader(dataset, _loading.blocks(np.arange(len(files)), int(batch_size)), 0, False, 0)
    probs, kept = [], []
    bar = progress_bar(len(files), "probe", progress, unit="img")
    try:
        with torch.no_grad():
            for ok, images, _h, bad, _bh, _reasons in loader:
                if images is not None:
                    logits = module(pre.normalize(torch.as_tensor(images)))
                    probs.append(torch.softmax(logits.float(), dim=1).numpy())
                    kept.extend(ok.tolist())
                bar.update(len(ok) + len(bad))
    finally:
        bar.close()
        for h in hooks:
            h.remove()
        if hasattr(loader, "close"):
            loader.close()
    if not probs:
        raise ValueError(f"none of the {len(files)} probed images could be decoded; check the source {table.root!r}")
    counts = np.array([c for c, _s, _q in taps["bn"]], dtype=np.float64)
    sums = np.sum([s for _c, s, _q in taps["bn"]], axis=0)
    squares = np.sum([q for _c, _s, q in taps["bn"]], axis=0)
    mean = sums / counts.sum()
    return SourceProbe(probs=np.concatenate(probs).astype(np.float64),
                       features=torch.cat(taps["features"]).numpy().astype(np.float64),
                       bn_mean=mean, bn_var=np.maximum(squares / counts.sum() - mean ** 2, 0.0),
                       bn_running_mean=bn.running_mean.detach().double().numpy(),
                       bn_running_var=bn.running_var.detach().double().numpy(),
                       rows=chosen[np.asarray(kept, dtype=np.int64)], bn_layer=bn_name)


def _last_batchnorm(module: torch.nn.Module):
    last = None
    for name, m in module.named_modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            last = (name, m)
    if last is None:
        raise ValueError(f"{type(module).__name__} has no BatchNorm layer with running statistics to compare against")
    return last


def _channel_moments(x: torch.Tensor):
    """(count, per-channel sum, per-channel sum of squares) over batch and space."""
    x = x.detach().double().transpose(0, 1).flatten(1)
    return x.shape[1], x.sum(1).numpy(), (x * x).sum(1).numpy()
