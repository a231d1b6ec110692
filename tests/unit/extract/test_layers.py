import pytest
import torch

from featx.extract import LayerTap, UnknownLayerError, build_backbone, list_layers, penultimate_layer, pool


@pytest.mark.parametrize(
    "model, expected",
    [("efficientnet_lite0", "global_pool"), ("resnet18", "avgpool"), ("convnext_tiny", "classifier.0"),
     ("vit_b_16", "encoder.ln")],
)
def test_penultimate_is_what_feeds_the_classifier(model, expected):
    backbone = build_backbone(model, "none")
    x = torch.rand(2, 3, 224, 224)
    how = "cls" if model.startswith("vit") else "avg"  # a ViT's classifier reads its class token
    name = penultimate_layer(backbone.module, x[:1], how)
    assert name == expected
    modules = dict(backbone.module.named_modules())
    base = name[:-3] if name.endswith(":in") else name
    assert base in modules and not isinstance(modules[base], (torch.nn.Dropout, torch.nn.Identity))
    captured = {}
    last_linear = [m for m in backbone.module.modules() if isinstance(m, torch.nn.Linear)][-1]
    h = last_linear.register_forward_pre_hook(lambda _m, inp: captured.setdefault("x", inp[0]))
    with torch.inference_mode():
        backbone.module(x)
    h.remove()
    tap = LayerTap(backbone.module, [name], how)
    with torch.inference_mode():
        out = tap(x)[name]
    tap.close()
    torch.testing.assert_close(out, captured["x"].flatten(1).float())


def test_several_layers_in_one_pass_and_pooling():
    backbone = build_backbone("efficientnet_lite0", "none")
    x = torch.rand(3, 3, 96, 96)
    for how, factor in (("avg", 1), ("max", 1), ("avgmax", 2)):
        tap = LayerTap(backbone.module, ["blocks.3", "global_pool"], how)
        with torch.inference_mode():
            out = tap(x)
        tap.close()
        assert out["blocks.3"].shape == (3, 80 * factor)
        assert out["global_pool"].shape == (3, 1280)
    tap = LayerTap(backbone.module, ["blocks.3"], "none")
    with torch.inference_mode():
        flat = tap(x)["blocks.3"]
    tap.close()
    assert flat.shape == (3, 80 * 6 * 6)


def test_pool_values():
    t = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    torch.testing.assert_close(pool(t, "avg"), t.mean((2, 3)))
    torch.testing.assert_close(pool(t, "max"), t.amax((2, 3)))
    assert pool(t, "avgmax").shape == (2, 6)
    torch.testing.assert_close(pool(t, "none"), t.flatten(1))


def test_unknown_layer_names_close_match():
    backbone = build_backbone("efficientnet_lite0", "none")
    with pytest.raises(UnknownLayerError, match=r"'blocks.9' is not present.*did you mean 'blocks.6'.*featx layers"):
        LayerTap(backbone.module, ["blocks.9"], "avg")


def test_list_layers_has_shapes():
    backbone = build_backbone("efficientnet_lite0", "none")
    layers = {info.name: info for info in list_layers(backbone.module, torch.zeros(1, 3, 224, 224))}
    assert layers["blocks.3"].shape == (80, 14, 14)
    assert layers["global_pool"].shape == (1280,)
    assert layers["classifier"].shape == (1000,)


def test_a_tap_left_attached_does_not_disturb_a_plain_forward():
    backbone = build_backbone("efficientnet_lite0", "none")
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        logits = backbone.module(x)
        tap = LayerTap(backbone.module, ["blocks.1"], "avg")
        assert tap(x)["blocks.1"].shape == (2, 24)
        torch.testing.assert_close(backbone.module(x), logits)  # hooks are inert outside a call
        assert tap(x)["blocks.1"].shape == (2, 24)
    tap.close()
