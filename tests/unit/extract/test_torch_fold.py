"""BatchNorm folding on the torch runtime's CPU path: built-in models (random weights; one of each
BatchNorm family: ResNet-50 and EfficientNet-Lite1/2 would add only build time; ConvNeXt and ViT
have no BatchNorm) give the
features of the unfolded model within 1e-5 relative to their scale, taps keep their names and
values, and a tap that folding would change keeps its pair unfolded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from featx.extract import FeatureComputer, Preprocessing, build_backbone, resolve_layers
from featx.extract.runtime._bnfold import conv_bn_pairs, fold_batchnorms

CPU = torch.device("cpu")
MODELS = ("efficientnet_lite0", "resnet18", "efficientnet_b0", "mobilenet_v3_large")
_BUILT: dict = {}


def small(name: str, size: int = 64):
    """The built-in model ``name`` with random weights at a small input size (built once)."""
    if name not in _BUILT:
        _BUILT[name] = build_backbone(name, "none")
    return dataclasses.replace(_BUILT[name], preprocessing=Preprocessing(crop_size=size, resize_size=size))


def images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


def close_to_scale(a: np.ndarray, b: np.ndarray, rtol: float = 1e-5) -> tuple[float, float]:
    """(min cosine, max abs diff / max abs value) of two feature arrays."""
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.min()), float(np.abs(a - b).max() / np.abs(a).max())


def both(backbone, layers, n=3):
    x = images(n, backbone.preprocessing.crop_size)
    plain = FeatureComputer(backbone, layers, "avg", CPU, None, fold_bn=False)
    folded = FeatureComputer(backbone, layers, "avg", CPU, None)
    try:
        return plain(x), folded(x), folded.folded
    finally:
        plain.close()
        folded.close()


@pytest.mark.parametrize("name", MODELS)
def test_folded_features_match_the_unfolded_model(name):
    backbone = small(name)
    layers = resolve_layers(backbone, None, "avg", dims=False).names
    plain, folded, n_folded = both(backbone, layers)
    assert n_folded > 0
    for layer in layers:
        cos, rel = close_to_scale(plain[layer], folded[layer])
        assert cos >= 0.99999 and rel <= 1e-5, (layer, cos, rel)
    assert any(not np.array_equal(plain[k], folded[k]) for k in layers)  # folding did change the arithmetic


def test_a_module_without_a_conv_batchnorm_pair_is_run_as_it_is():
    layer_norm = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.GroupNorm(2, 4), torch.nn.ReLU())
    shared = torch.nn.Conv2d(3, 4, 3)  # a conv read by a BatchNorm and by something else
    assert fold_batchnorms(layer_norm, []) == (layer_norm, 0)

    class TwoReaders(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = shared, torch.nn.BatchNorm2d(4).eval()

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y

    model = TwoReaders().eval()
    assert conv_bn_pairs(model) == [] and fold_batchnorms(model, [])[1] == 0


def test_taps_keep_their_values_and_a_tap_on_a_conv_or_a_batchnorm_input_keeps_its_pair():
    backbone = small("resnet18")
    pairs = conv_bn_pairs(backbone.module)
    assert ("conv1", "bn1") in pairs and ("layer1.0.conv2", "layer1.0.bn2") in pairs
    layers = ["conv1", "layer1.0.bn2:in", "layer2.0.bn1", "layer3", "avgpool"]
    plain, folded, n_folded = both(backbone, layers)
    assert n_folded == len(pairs) - 2  # (conv1, bn1) and (layer1.0.conv2, layer1.0.bn2) stay
    assert np.array_equal(plain["conv1"], folded["conv1"])  # nothing before it was folded
    for layer in layers:
        cos, rel = close_to_scale(plain[layer], folded[layer])
        assert cos >= 0.99999 and rel <= 1e-5, (layer, cos, rel)


def test_folding_copies_the_module_and_leaves_the_backbone_as_it_was():
    backbone = small("resnet18")
    before = {k: v.clone() for k, v in backbone.module.state_dict().items()}
    folded, n = fold_batchnorms(backbone.module, ["avgpool"])
    assert n == 20 and folded is not backbone.module
    assert isinstance(backbone.module.bn1, torch.nn.BatchNorm2d) and isinstance(folded.bn1, torch.nn.Identity)
    after = backbone.module.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_folded_features_are_the_same_bitwise_whatever_the_batch_split():
    backbone = small("efficientnet_lite0")
    computer = FeatureComputer(backbone, ["global_pool"], "avg", CPU, None)
    x = images(8, 64)
    whole = computer(x)["global_pool"]
    halves = np.concatenate([computer(x[:4])["global_pool"], computer(x[4:])["global_pool"]])
    computer.close()
    assert computer.folded > 0 and np.array_equal(whole, halves)
