"""Provenance equals computation (issue 21, Build 1), as a property over every recorded setting.

For each backbone family (CNN and ViT; timm and torchvision; seeded random weights, 32 px
inputs) and each setting a cache records in its provenance (pool, precision, dtype, tta,
runtime, layers, preprocessing, JPEG draft decoding), every value is extracted from the same
tiny real JPEG images. Any two values recorded differently must give different features, or be
refused with one line; two values recorded the same must give the same features.
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
import timm
import torch
import torchvision.models as tvm
from PIL import Image
from timm.models.vision_transformer import VisionTransformer

from featx.extract import Backbone, ExtractError, ModelSpec, Preprocessing, extract, read_cache
from featx.extract.models._weights import state_dict_sha256

SIZE = 32


def _backbone(module, name, source, size=SIZE) -> Backbone:
    module.eval()  # a CNN gets 64 px, so that its last map is 2 x 2 (at 1 x 1 max pooling is the average)
    return Backbone(module, ModelSpec(name, source, name), Preprocessing(crop_size=size, resize_size=size + 4),
                    "none (random init, seed 0)", state_dict_sha256(module))


def _seeded(make):
    torch.manual_seed(0)
    return make()


FAMILIES = {
    "timm-cnn": lambda: _backbone(_seeded(lambda: timm.create_model("resnet18", pretrained=False, num_classes=5)),
                                  "timm_tiny_resnet", "timm", 64),
    "torchvision-cnn": lambda: _backbone(_seeded(lambda: tvm.resnet18(num_classes=5)), "tv_tiny_resnet", "torchvision", 64),
    "timm-vit": lambda: _backbone(_seeded(lambda: VisionTransformer(img_size=SIZE, patch_size=8, embed_dim=32, depth=2,
                                                                    num_heads=2, num_classes=5)), "timm_tiny_vit", "timm"),
    "torchvision-vit": lambda: _backbone(_seeded(lambda: tvm.VisionTransformer(
        image_size=SIZE, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, num_classes=5)),
        "tv_tiny_vit", "torchvision"),
}
OTHER_LAYER = {"timm-cnn": "layer3", "torchvision-cnn": "layer3", "timm-vit": "blocks.0", "torchvision-vit":
               "encoder.layers.encoder_layer_0"}


def _openvino() -> bool:
    try:
        import openvino  # noqa: F401
    except Exception:
        return False
    return True


def _settings(family: str) -> dict[str, list[dict]]:
    """setting -> the values tried (as extract() keyword overrides of the base)."""
    runtimes = [{"runtime": "torch"}] + ([{"runtime": "openvino"}, {"runtime": "openvino", "precision": "bf16"}]
                                          if _openvino() else [])
    return {
        "pool": [{"pool": p} for p in ("avg", "max", "avgmax", "none", "cls", "mean", "cls+mean")],
        "precision": [{"precision": "fp32"}, {"precision": "bf16"}],
        "dtype": [{"dtype": "float32"}, {"dtype": "float16"}],
        "tta": [{"tta": "none"}, {"tta": "hflip"}],
        "runtime": runtimes,
        "layers": [{}, {"layers": [OTHER_LAYER[family]]}],
        "preprocessing": [{}, {"resize": 80}, {"interpolation": "bicubic"}],
        "jpeg_draft": [{"jpeg_draft": True}, {"jpeg_draft": False}],
    }


def _images(root) -> str:
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):  # 480 px JPEGs: big enough for draft decoding to a 36 or 68 px resize
            base = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(base).resize((480, 480), Image.BICUBIC).save(root / c / f"{i}.jpg", quality=90)
    return str(root)


def _run(images, out, family, backbone, over: dict):
    over = dict(over)
    pre = backbone.preprocessing
    if "resize" in over:
        pre = dataclasses.replace(pre, resize_size=over.pop("resize"))
    if "interpolation" in over:
        pre = dataclasses.replace(pre, interpolation=over.pop("interpolation"))
    kw = {"pool": "cls" if family.endswith("vit") else "avg", "runtime": "torch", "precision": "fp32",
          "dtype": "float32"} | over
    extract(images, out, backbone=dataclasses.replace(backbone, preprocessing=pre), progress=False, workers=0,
            batch_size=8, **kw)
    data = read_cache(str(out))
    recorded = {k: data.meta[k] for k in ("pooling", "dtype", "layers", "preprocessing", "runtime", "tta", "decoding")}
    recorded["runtime"] = {k: v for k, v in recorded["runtime"].items() if k != "version"}
    return json.dumps(recorded, sort_keys=True), np.concatenate([data.features[k] for k in data.meta["layers"]], axis=1)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_values_recorded_differently_compute_differently(family, tmp_path, capfd):
    images = _images(tmp_path / "img")
    backbone = FAMILIES[family]()
    refused = []
    for setting, values in _settings(family).items():
        results = []
        for k, over in enumerate(values):
            try:
                results.append((over, *_run(images, tmp_path / f"{setting}{k}.h5", family, backbone, over)))
            except ExtractError as exc:
                message = str(exc)
                assert message and "\n" not in message, (setting, over, message)
                refused.append((setting, over, message))
        assert len(results) >= 2 or setting == "runtime", (family, setting, refused)
        for (a, rec_a, fa), (b, rec_b, fb) in itertools.combinations(results, 2):
            if rec_a == rec_b:
                np.testing.assert_array_equal(fa, fb, err_msg=f"{family} {setting}: {a} and {b} recorded alike")
            else:
                assert fa.shape != fb.shape or not np.array_equal(fa, fb), \
                    f"{family} {setting}: {a} and {b} are recorded differently but give identical features"
    pools_refused = {over["pool"] for setting, over, _ in refused if setting == "pool"}
    if family.endswith("vit"):
        assert {"avg", "max"} <= pools_refused
        assert all("mean" in m and "cls" in m for s, o, m in refused if s == "pool")
    else:
        assert pools_refused == {"cls", "mean", "cls+mean"}


@pytest.mark.skipif(not _openvino(), reason="OpenVINO cannot be imported here")
def test_openvino_records_the_precision_it_ran_and_warns_once(tmp_path, capfd):
    import openvino

    from featx.extract.runtime import _openvino as ov_runtime

    ov_runtime._WARNED.clear()  # once per process: forget what an earlier test of this process was warned
    images = _images(tmp_path / "img")
    backbone = FAMILIES["torchvision-cnn"]()
    has_bf16 = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    capfd.readouterr()
    for k in range(2):
        recorded, _ = _run(images, tmp_path / f"bf{k}.h5", "torchvision-cnn", backbone,
                           {"runtime": "openvino", "precision": "bf16"})
        assert json.loads(recorded)["runtime"]["precision"] == ("bf16" if has_bf16 else "fp32")
    warned = capfd.readouterr().err.count("precision bf16 was asked")
    assert warned == (0 if has_bf16 else 1)
