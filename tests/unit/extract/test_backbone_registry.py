"""Backbones as registrations (issue 22): a user's own torch module becomes a name that
featx.extract.extract, featx extract --model (in-process), the spec and featx models accept; the
built-ins are entries of the same table."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from featx.extract import (BUILTIN, Preprocessing, UnknownModelError, extract, read_cache, register_backbone,
                           resolve_spec, unregister_backbone)
from featx.pipelines.cli import main


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


@pytest.fixture
def tiny_registered():
    calls = []

    @register_backbone("tinynet", description="a 6-channel test network",
                       preprocessing=Preprocessing(crop_size=32, resize_size=36, mean=(0.5,) * 3, std=(0.5,) * 3))
    def build(weights):
        calls.append(weights)
        return TinyNet().eval()

    yield calls
    unregister_backbone("tinynet")


def test_a_registered_backbone_extracts_like_the_module_by_hand(tiny_registered, colour_dataset, tmp_path):
    out = str(tmp_path / "t.h5")
    extract(colour_dataset, out, model="tinynet", layers=["pool"], progress=False, workers=0)
    meta = read_cache(out).meta
    assert (meta["model"], meta["source"], meta["weights"]) == ("tinynet", "registered", "registered:tinynet:default")
    assert meta["preprocessing"]["crop_size"] == 32 and meta["preprocessing"]["mean"] == [0.5] * 3
    assert tiny_registered == ["default"]
    # the same network (seeded the same way) and preprocessing, by hand through the same extractor
    from featx.extract import Backbone, ModelSpec
    from featx.extract.models._weights import state_dict_sha256

    torch.manual_seed(0)
    module = TinyNet().eval()
    by_hand = Backbone(module, ModelSpec("by_hand", "registered", "by_hand"), Preprocessing(crop_size=32, resize_size=36, mean=(0.5,) * 3, std=(0.5,) * 3), "x",
                       state_dict_sha256(module))
    out2 = str(tmp_path / "h.h5")
    extract(colour_dataset, out2, backbone=by_hand, layers=["pool"], progress=False, workers=0)
    a, b = read_cache(out), read_cache(out2)
    assert a.paths == b.paths
    np.testing.assert_array_equal(a.features["pool"], b.features["pool"])


def test_the_cli_lists_and_accepts_a_registered_backbone(tiny_registered, colour_dataset, tmp_path, capsys):
    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert "tinynet" in listed and "a 6-channel test network" in listed and "efficientnet_lite0" in listed
    out = str(tmp_path / "c.h5")
    assert main(["extract", colour_dataset, "-o", out, "--model", "tinynet", "--layer", "conv", "--workers", "0"]) == 0
    assert read_cache(out).features["conv"].shape[1] == 6


def test_builtins_are_entries_of_the_same_table_and_names_are_checked():
    assert resolve_spec("efficientnet_lite0").source == "timm" and "efficientnet_lite0" in BUILTIN
    with pytest.raises(ValueError, match=r"^backbone 'resnet50' is already registered; pick another name$"):
        register_backbone("resnet50", lambda w: TinyNet())
    with pytest.raises(ValueError, match=r"^backbone 'resnet50' is already registered; pick another name$"):
        register_backbone("resnet50", lambda w: TinyNet(), replace=True)  # built-ins stay
    with pytest.raises(TypeError, match=r"^register_backbone\('notcallable', ...\): the builder must be callable, got int$"):
        register_backbone("notcallable", 3)
    with pytest.raises(ValueError, match=r"^a backbone name must be a word of letters, digits, '_', '.' or '-' starting "
                                         r"with a letter; got 'timm:x'$"):
        register_backbone("timm:x", lambda w: TinyNet())
    with pytest.raises(ValueError, match=r"^a backbone name must not look like a checkpoint path \(.pt, .pth, .ckpt\); "
                                         r"got 'mine.pt'$"):
        register_backbone("mine.pt", lambda w: TinyNet())
    register_backbone("gone", lambda w: TinyNet())
    unregister_backbone("gone")
    with pytest.raises(UnknownModelError, match="unknown model 'gone'"):
        resolve_spec("gone")
    with pytest.raises(ValueError, match=r"^backbone 'resnet50' is built in and cannot be removed$"):
        unregister_backbone("resnet50")
    with pytest.raises(UnknownModelError, match=r"^unknown backbone 'gone'; choose from: convnext_tiny, "):
        unregister_backbone("gone")
