"""Token pooling of vision transformers (cls, mean of patch tokens, cls+mean) on small
random-weight timm and torchvision ViTs: shapes, values against the models' own tokens, the
'penultimate' layer it resolves to, both runtimes, the cache spec, and clear errors where it does
not apply."""

import dataclasses

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from timm.models.vision_transformer import VisionTransformer

from featx.extract import (Backbone, ExtractError, FeatureComputer, LayerTap, ModelSpec, Preprocessing, build_backbone,
                           extract, read_cache, resolve_layers)
from featx.extract.models._weights import state_dict_sha256

SIZE, WIDTH = 32, 32  # 32 px images, 8 px patches: 16 patch tokens of width 32


def _backbone(module, name) -> Backbone:
    module.eval()
    return Backbone(module, ModelSpec(name, "timm" if name.startswith("timm") else "torchvision", name),
                    Preprocessing(crop_size=SIZE, resize_size=SIZE), "none (random init, seed 0)",
                    state_dict_sha256(module))


def timm_vit(**kw) -> Backbone:
    torch.manual_seed(0)
    return _backbone(VisionTransformer(img_size=SIZE, patch_size=8, embed_dim=WIDTH, depth=2, num_heads=2,
                                       num_classes=5, **kw), "timm_tiny_vit")


def torchvision_vit() -> Backbone:
    torch.manual_seed(0)
    return _backbone(tvm.VisionTransformer(image_size=SIZE, patch_size=8, num_layers=2, num_heads=2,
                                           hidden_dim=WIDTH, mlp_dim=64, num_classes=5), "torchvision_tiny_vit")


def _tokens(backbone, layer, x):
    """The raw (N, T, D) output of ``layer`` for ``x``."""
    seen = {}
    handle = dict(backbone.module.named_modules())[layer].register_forward_hook(lambda _m, _i, out: seen.update(out=out))
    with torch.inference_mode():
        backbone.module(x)
    handle.remove()
    return seen["out"]


def _tap(backbone, layers, pool, x):
    tap = LayerTap(backbone.module, layers, pool)
    try:
        with torch.inference_mode():
            return tap(x)
    finally:
        tap.close()


X = torch.randn(3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("make, final, prefix", [(timm_vit, "norm", 1), (torchvision_vit, "encoder.ln", 1),
                                                 (lambda: timm_vit(reg_tokens=2), "norm", 3)])
def test_token_pools_take_the_class_token_and_the_mean_of_patch_tokens(make, final, prefix):
    backbone = make()
    tokens = _tokens(backbone, final, X)
    assert tokens.shape == (3, prefix + 16, WIDTH)
    cls = _tap(backbone, [final], "cls", X)[final]
    mean = _tap(backbone, [final], "mean", X)[final]
    both = _tap(backbone, [final], "cls+mean", X)[final]
    assert cls.shape == mean.shape == (3, WIDTH) and both.shape == (3, 2 * WIDTH)
    torch.testing.assert_close(cls, tokens[:, 0])
    torch.testing.assert_close(mean, tokens[:, prefix:].mean(1))  # register tokens are not patches
    torch.testing.assert_close(both, torch.cat([tokens[:, 0], tokens[:, prefix:].mean(1)], 1))
    assert not torch.allclose(mean, tokens.mean(1))  # 'avg' keeps the prefix tokens: a different vector


@pytest.mark.parametrize("make, final, head", [(timm_vit, "norm", "head"), (torchvision_vit, "encoder.ln", "heads.head")])
def test_penultimate_under_a_token_pool_is_the_last_token_layer(make, final, head):
    backbone = make()
    for how in ("avg", "max", "avgmax", "none"):  # would be the class token, recorded as another pooling
        with pytest.raises(ExtractError, match=r"use pool mean .* cls "):
            resolve_layers(backbone, None, how)
    resolved = resolve_layers(backbone, None, "cls")
    assert resolved.names == [final] and resolved.aliases == {final: "penultimate"} and resolved.dims == {final: WIDTH}
    assert resolve_layers(backbone, None, "cls+mean").dims == {final: 2 * WIDTH}
    # the class token of the final norm is exactly what the model feeds its classifier
    own = _tap(backbone, [f"{head}:in"], "avg", X)[f"{head}:in"]
    torch.testing.assert_close(_tap(backbone, [final], "cls", X)[final], own)


def test_a_model_without_class_token_pools_mean_only():
    backbone = timm_vit(class_token=False, global_pool="avg")
    assert resolve_layers(backbone, ["blocks.1"], "mean").dims == {"blocks.1": WIDTH}
    tokens = _tokens(backbone, "blocks.1", X)
    torch.testing.assert_close(_tap(backbone, ["blocks.1"], "mean", X)["blocks.1"], tokens.mean(1))  # no prefix
    with pytest.raises(ExtractError, match=r"pool 'cls' needs a class token, and timm_tiny_vit has none; use pool mean"):
        resolve_layers(backbone, ["blocks.1"], "cls")


@pytest.mark.parametrize("layer, shape", [("patch_embed.proj", r"\(32, 4, 4\)"), ("head:in", r"\(32,\)")])
def test_token_pool_on_a_map_or_vector_layer_is_one_clear_error(layer, shape):
    backbone = timm_vit()
    with pytest.raises(ExtractError, match=rf"pool 'cls' pools token sequences .* layer '{layer}' outputs {shape} per "
                                           r"image; tap a token layer .* or use pool avg, max, avgmax or none"):
        resolve_layers(backbone, [layer], "cls", dims=False)  # refused even without asking for dims
    problems = resolve_layers(backbone, [layer, "norm"], "mean", strict=False).problems
    assert len(problems) == 1 and layer in problems[0]


def test_token_pool_on_a_cnn_is_one_clear_error():
    backbone = build_backbone("resnet18", "none")
    with pytest.raises(ExtractError, match=r"pool 'mean' pools a vision transformer's tokens, and resnet18 is not a "
                                           r"timm or torchvision ViT .*; use pool avg, max, avgmax, none"):
        resolve_layers(backbone, None, "mean")


@pytest.mark.parametrize("make", [timm_vit, torchvision_vit])
def test_openvino_runtime_pools_tokens_as_torch_does(make, tmp_path):
    from featx.extract.runtime._openvino import OpenVINOComputer

    backbone = make()
    layers = resolve_layers(backbone, ["penultimate", "blocks.0" if make is timm_vit else "encoder.layers.encoder_layer_0"],
                            "cls+mean").names
    images = torch.randint(0, 256, (2, 3, SIZE, SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    ov = OpenVINOComputer(backbone, layers, "cls+mean", cache_dir=str(tmp_path))
    tc = FeatureComputer(backbone, layers, "cls+mean", torch.device("cpu"), None)
    a, b = ov(images), tc(images)
    for layer in layers:
        assert a[layer].shape == b[layer].shape == (2, 2 * WIDTH)
        np.testing.assert_allclose(a[layer], b[layer], atol=1e-4, rtol=1e-4)


def test_the_cache_spec_records_the_token_pooling(colour_dataset, tmp_path):
    backbone = timm_vit()
    summary_path = tmp_path / "vit.h5"
    extract(colour_dataset, summary_path, backbone=backbone, pool="cls+mean", runtime="torch", progress=False,
            workers=0, batch_size=4)
    data = read_cache(str(summary_path))
    assert data.meta["pooling"] == "cls+mean" and data.meta["layers"] == ["norm"]
    assert data.features["norm"].shape == (18, 2 * WIDTH)
    # another token pooling is another feature set: the cache refuses to mix them
    with pytest.raises(ExtractError, match="pool"):
        extract(colour_dataset, summary_path, backbone=dataclasses.replace(backbone), pool="mean", runtime="torch",
                progress=False, workers=0, batch_size=4)
