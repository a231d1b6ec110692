"""The runtime beyond extraction: a checkpoint's own head predicts through OpenVINO as through
torch, and the CLI's light commands start without importing torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from featx.extract import Preprocessing, build_architecture, save_checkpoint
from featx.extract.finetune import predict_with_checkpoint


def test_checkpoint_prediction_through_openvino_matches_torch(colour_dataset, tmp_path):
    module = build_architecture("torchvision", "resnet18", num_classes=3)
    path = str(tmp_path / "ft.pt")
    save_checkpoint(path, module, arch={"source": "torchvision", "arch": "resnet18", "num_classes": 3},
                    preprocessing=Preprocessing(crop_size=48, resize_size=48).to_dict(), classes=["blue", "green", "red"])
    by = {rt: predict_with_checkpoint(path, colour_dataset, runtime=rt, batch_size=5) for rt in ("torch", "openvino")}
    assert by["torch"].paths == by["openvino"].paths and len(by["torch"]) == 18
    assert by["torch"].labels == by["openvino"].labels
    np.testing.assert_allclose(by["openvino"].probs, by["torch"].probs, atol=1e-5)


def test_light_commands_do_not_import_torch():
    code = ("import sys, contextlib, io\nfrom featx.pipelines.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['models']) == 0\n"
            "heavy = [m for m in ('torch', 'sklearn', 'openvino') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)
