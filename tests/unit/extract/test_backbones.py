import os
import pickle

import numpy as np
import skimage.data
import pytest
import torch
from PIL import Image

from featx.extract import (
    CheckpointError,
    UnknownModelError,
    WeightsError,
    WeightsNotFoundError,
    build_architecture,
    build_backbone,
    read_checkpoint,
    resolve_spec,
    save_checkpoint,
)


def _top_class(backbone, image: Image.Image) -> list[int]:
    x = backbone.preprocessing.normalize(backbone.preprocessing.pil_transform()(image)[None])
    with torch.inference_mode():
        return backbone.module(x).softmax(1).topk(1).indices[0].tolist()


def test_default_weights_are_real_imagenet_weights():
    backbone = build_backbone()
    assert backbone.spec.arch == "tf_efficientnet_lite0"
    assert backbone.preprocessing.mean == (0.5, 0.5, 0.5) and backbone.preprocessing.std == (0.5, 0.5, 0.5)
    assert backbone.preprocessing.resize_size == 256 and backbone.preprocessing.crop_size == 224
    assert backbone.preprocessing.interpolation == "bicubic"
    cat = _top_class(backbone, Image.fromarray(skimage.data.chelsea()))[0]
    assert 281 <= cat <= 285, cat  # tabby / tiger / Persian / Siamese / Egyptian cat
    assert _top_class(backbone, Image.fromarray(skimage.data.coffee()))[0] == 967  # espresso


def test_random_init_is_seeded_and_hashed():
    a = build_backbone("efficientnet_lite0", "none")
    b = build_backbone("efficientnet_lite0", "none")
    assert a.weights_sha256 == b.weights_sha256
    assert a.weights_sha256 != build_backbone().weights_sha256


def test_torchvision_and_timm_specs():
    tv = build_backbone("torchvision:resnet18", "none")
    assert tv.spec.source == "torchvision" and tv.preprocessing.resize_size == 256
    tm = build_backbone("timm:resnet18", "none")
    assert tm.spec.source == "timm" and tm.spec.arch == "resnet18"
    assert resolve_spec("resnet50").source == "torchvision"


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError, match="did you mean 'resnet18'"):
        resolve_spec("resnt18")
    with pytest.raises(UnknownModelError, match="timm has no model"):
        resolve_spec("timm:not_a_model_xyz")


def test_offline_torchvision_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # empty hub cache, and no network here
    with pytest.raises(WeightsNotFoundError, match=r"put that file at .*resnet18-.*\.pth"):
        build_backbone("resnet18", "IMAGENET1K_V1")


def test_weights_file_by_name_and_by_position(tmp_path):
    src = build_architecture("timm", "tf_efficientnet_lite0")
    torch.nn.init.constant_(src.classifier.bias, 0.25)
    path = tmp_path / "w.pth"
    torch.save(src.state_dict(), path)
    loaded = build_backbone("efficientnet_lite0", str(path))
    assert torch.equal(loaded.module.classifier.bias, src.classifier.bias)
    renamed = {f"k{i}": v for i, v in enumerate(src.state_dict().values())}
    torch.save(renamed, tmp_path / "renamed.pth")
    by_pos = build_backbone("efficientnet_lite0", str(tmp_path / "renamed.pth"))
    assert by_pos.weights_sha256 == loaded.weights_sha256
    torch.save({"a": torch.zeros(3)}, tmp_path / "wrong.pth")
    with pytest.raises(WeightsError, match="do not match the architecture"):
        build_backbone("efficientnet_lite0", str(tmp_path / "wrong.pth"))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/featx-pwned",))


def test_crafted_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": _Evil()}, fh)
    if os.path.exists("/tmp/featx-pwned"):
        os.unlink("/tmp/featx-pwned")
    with pytest.raises(WeightsError, match="weights_only=True"):
        build_backbone("efficientnet_lite0", str(path))
    with pytest.raises(CheckpointError, match="weights_only=True"):
        read_checkpoint(str(path))
    assert not os.path.exists("/tmp/featx-pwned")


def test_checkpoint_round_trip(tmp_path):
    module = build_architecture("timm", "tf_efficientnet_lite0", num_classes=3)
    pre = build_backbone("efficientnet_lite0", "none").preprocessing
    path = str(tmp_path / "ft.pt")
    save_checkpoint(path, module, arch={"source": "timm", "arch": "tf_efficientnet_lite0", "num_classes": 3},
                    preprocessing=pre.to_dict(), classes=["a", "b", "c"], history=[{"epoch": 1, "loss": 0.5}])
    back = build_backbone(path)
    assert back.spec.source == "checkpoint" and back.classes == ["a", "b", "c"]
    x = torch.rand(2, 3, 64, 64)
    module.eval()
    with torch.inference_mode():
        assert torch.equal(back.module(x), module(x))
    with pytest.raises(CheckpointError, match="not a featx checkpoint"):
        torch.save({"x": torch.zeros(1)}, tmp_path / "plain.pt")
        build_backbone(str(tmp_path / "plain.pt"))
    with pytest.raises(CheckpointError, match="does not exist"):
        build_backbone(str(tmp_path / "missing.pt"))


class _Anything:
    """An arbitrary pickled object (not a tensor or a plain container)."""


def _crafted_files(folder) -> dict:
    files = {"object": folder / "object.pt", "protocol4": folder / "protocol4.pt", "no_featx_keys": folder / "keys.pt"}
    torch.save(_Anything(), files["object"])
    with open(files["protocol4"], "wb") as fh:  # torch warns over several lines about the protocol
        pickle.dump({"state_dict": {"w": 1}}, fh, protocol=4)
    torch.save({"epoch": 3, "notes": ["not", "tensors"]}, files["no_featx_keys"])
    return files


def test_crafted_checkpoints_are_one_error_line(colour_dataset, tmp_path):
    import subprocess
    import sys

    for kind, path in _crafted_files(tmp_path).items():
        for flag in ("--model", "--weights"):
            r = subprocess.run([sys.executable, "-m", "featx.pipelines", "extract", colour_dataset, "-o",
                                str(tmp_path / "o.h5"), flag, str(path), "--workers", "0"],
                               capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "default"})
            lines = r.stderr.strip().splitlines()
            assert r.returncode == 2 and len(lines) == 1, (kind, flag, r.stderr)
            assert lines[0].startswith(f"error: {str(path)!r} is not a featx checkpoint or state_dict and was not loaded"), lines[0]
            assert len(lines[0]) - len(str(path)) < 220 and "\x1b" not in lines[0], lines[0]
    assert not os.path.exists(tmp_path / "o.h5")
