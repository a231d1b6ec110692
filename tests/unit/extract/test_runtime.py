"""The inference runtimes: OpenVINO features against torch's, several taps in one compiled model,
bitwise-identical caches across batch sizes and thread counts, the fallback line, refusal on a
runtime mismatch, bf16 recorded in provenance, and the on-disk cache of converted models."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
import torch

from featx.extract import (
    BUILTIN,
    Backbone,
    CacheMismatchError,
    ExtractError,
    FeatureComputer,
    ModelSpec,
    Preprocessing,
    build_backbone,
    build_runtime,
    cache_info,
    extract,
    read_cache,
    resolve_layers,
)
from featx.extract.runtime._openvino import OpenVINOComputer

CPU = torch.device("cpu")


def small(backbone: Backbone, size: int = 64) -> Backbone:
    """The backbone at a small input size (the features' agreement does not depend on it)."""
    return dataclasses.replace(backbone, preprocessing=Preprocessing(crop_size=size, resize_size=size))


def images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.min()), float(np.abs(a - b).max())


def both_runtimes(backbone, layers, pool="avg", tta="none", n=2, seed=0, cache_dir=None):
    x = images(n, backbone.preprocessing.crop_size, seed)
    ov = OpenVINOComputer(backbone, layers, pool, tta=tta, cache_dir=cache_dir)
    tc = FeatureComputer(backbone, layers, pool, CPU, None, tta)
    try:
        return ov(x), tc(x)
    finally:
        tc.close()


@pytest.mark.parametrize("name", list(BUILTIN))
def test_openvino_matches_torch_for_every_builtin_model(name, tmp_path):
    backbone = build_backbone(name, "none")
    if name != "vit_b_16":  # ViT checks its input size
        backbone = small(backbone)
    pool = "cls" if name == "vit_b_16" else "avg"  # a ViT refuses avg (it would be its class token)
    layers = resolve_layers(backbone, None, pool, dims=False).names
    ov, tc = both_runtimes(backbone, layers, pool=pool, cache_dir=str(tmp_path))
    cos, diff = agreement(ov[layers[0]], tc[layers[0]])
    scale = float(np.abs(tc[layers[0]]).max())
    assert cos >= 0.99999, (name, cos)
    assert diff <= 1e-4 * max(1.0, scale), (name, diff, scale)  # 1e-4 absolute on features of order 1


def test_several_layers_inputs_pooling_and_tta_in_one_compiled_model(tmp_path):
    backbone = small(build_backbone("efficientnet_lite0", "none"))
    layers = resolve_layers(backbone, ["penultimate", "blocks.3", "conv_head:in", "conv_stem"], dims=False).names
    ov, tc = both_runtimes(backbone, layers, pool="avgmax", tta="hflip", n=3, cache_dir=str(tmp_path))
    assert list(ov) == layers
    for layer in layers:
        assert ov[layer].shape == tc[layer].shape and ov[layer].dtype == np.float32
        cos, diff = agreement(ov[layer], tc[layer])
        assert cos >= 0.99999 and diff <= 1e-4, (layer, cos, diff)


def test_features_do_not_depend_on_batch_or_thread_count(tmp_path):
    backbone = small(build_backbone("resnet18", "none"))
    x = images(5, 64)
    one = OpenVINOComputer(backbone, ["avgpool"], "avg", threads=1, cache_dir=str(tmp_path))(x)["avgpool"]
    two = OpenVINOComputer(backbone, ["avgpool"], "avg", threads=2, cache_dir=str(tmp_path))
    assert np.array_equal(one, two(x)["avgpool"])
    assert np.array_equal(one[1:3], two(x[1:3])["avgpool"])


def test_cache_is_bitwise_identical_across_batch_sizes(colour_dataset, tmp_path):
    backbone = small(build_backbone("resnet18", "none"))
    runs = {}
    for batch in (3, 8):
        out = tmp_path / f"b{batch}.h5"
        extract(colour_dataset, out, backbone=backbone, runtime="openvino", batch_size=batch, dtype="float32",
                progress=False)
        runs[batch] = read_cache(out).features["avgpool"]
    assert np.array_equal(runs[3], runs[8])
    spec = cache_info(tmp_path / "b3.h5")["spec"]
    assert spec["runtime"]["name"] == "openvino" and spec["runtime"]["precision"] == "fp32"


def test_auto_is_openvino_on_the_cpu_and_refuses_another_runtime_on_resume(colour_dataset, tmp_path):
    backbone = small(build_backbone("resnet18", "none"))
    out = tmp_path / "c.h5"
    summary = extract(colour_dataset, out, backbone=backbone, progress=False)
    assert summary.runtime == "openvino" and "on cpu/openvino)" in summary.line()
    with pytest.raises(CacheMismatchError, match=r"\(runtime: cache has .*openvino.*asked .*torch"):
        extract(colour_dataset, out, backbone=backbone, runtime="torch", progress=False)


def test_bf16_opt_in_is_recorded_in_provenance(colour_dataset, tmp_path):
    backbone = small(build_backbone("resnet18", "none"))
    out = tmp_path / "bf16.h5"
    import openvino

    extract(colour_dataset, out, backbone=backbone, runtime="openvino", precision="bf16", progress=False)
    if "BF16" not in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        # OpenVINO runs f32 on a CPU without bf16: the cache records what ran, and fp32 resumes it
        assert cache_info(out)["spec"]["runtime"]["precision"] == "fp32"
        extract(colour_dataset, out, backbone=backbone, runtime="openvino", progress=False)
        return
    assert cache_info(out)["spec"]["runtime"]["precision"] == "bf16"
    with pytest.raises(CacheMismatchError, match="runtime"):  # an fp32 job does not resume a bf16 cache
        extract(colour_dataset, out, backbone=backbone, runtime="openvino", progress=False)


class _Histogram(torch.nn.Module):
    """A network with an op OpenVINO's converter has no rule for (aten::histc)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.hist = torch.nn.Identity()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        h = torch.stack([torch.histc(m, 4) for m in self.conv(x)])
        return self.fc(self.hist(h))


def _histogram_backbone() -> Backbone:
    return Backbone(_Histogram().eval(), ModelSpec("histogram", "timm", "histogram"),
                    Preprocessing(crop_size=16, resize_size=16), "none", "0" * 64)


def test_a_model_openvino_cannot_take_falls_back_with_one_line_under_auto(tmp_path, capsys):
    backbone = _histogram_backbone()
    runtime = build_runtime("auto", backbone, ["hist"], "avg", CPU, cache_dir=str(tmp_path))
    assert isinstance(runtime, FeatureComputer) and runtime.spec()["name"] == "torch"
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: OpenVINO cannot run histogram")
    assert "aten::histc" in lines[0] and "using the torch runtime" in lines[0]
    with pytest.raises(ExtractError, match=r"^OpenVINO cannot run histogram .*aten::histc.*--runtime torch$"):
        build_runtime("openvino", backbone, ["hist"], "avg", CPU, cache_dir=str(tmp_path))


def test_openvino_not_importable_falls_back_under_auto_and_fails_when_asked(monkeypatch, capsys):
    backbone = _histogram_backbone()
    monkeypatch.setitem(sys.modules, "openvino", None)  # what Python does for a module that cannot load
    runtime = build_runtime("auto", backbone, ["hist"], "avg", CPU)
    assert isinstance(runtime, FeatureComputer)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: OpenVINO cannot be imported")
    with pytest.raises(ExtractError, match="pip install openvino"):
        build_runtime("openvino", backbone, ["hist"], "avg", CPU)


def test_second_build_loads_the_converted_model_from_disk(tmp_path):
    backbone = small(build_backbone("resnet18", "none"), 32)
    first = OpenVINOComputer(backbone, ["layer3", "avgpool"], "max", cache_dir=str(tmp_path))
    second = OpenVINOComputer(backbone, ["layer3", "avgpool"], "max", cache_dir=str(tmp_path))
    assert not first.from_cache and second.from_cache
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".bin", ".xml"]
    x = images(2, 32)
    assert all(np.array_equal(a, b) for a, b in zip(first(x).values(), second(x).values()))
    other = OpenVINOComputer(backbone, ["layer3"], "max", cache_dir=str(tmp_path))  # other taps: another model
    assert not other.from_cache


def test_runtime_flag_on_extract_and_predict():
    from featx.pipelines.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["extract", "src", "-o", "x.h5", "--runtime", "torch"]).runtime == "torch"
    assert parser.parse_args(["extract", "src", "-o", "x.h5"]).runtime == "auto"
    assert parser.parse_args(["predict", "m.skops", "src", "--runtime", "openvino"]).runtime == "openvino"
