"""Bad input: one clear error (and exit code 2 on the command line), before any training."""

import os
import shutil

import pytest
import torch

from helpers.testdata import write_colour_dataset
from featx.extract import CheckpointError, WeightsError, build_architecture
from featx.extract.finetune import FinetuneConfigError, FinetuneDataError, finetune, predict_with_checkpoint
from featx.pipelines.cli import main
from helpers.ft_support import TINY, one_thread  # noqa: F401  (autouse fixture)


def test_fewer_than_two_classes(tmp_path):
    src = write_colour_dataset(tmp_path / "one", per_class=6, classes=("red",))
    with pytest.raises(FinetuneDataError, match=r"needs at least 2 classes; the training images have 1 \(only 'red'\)"):
        finetune(src, tmp_path / "m.pt", **TINY)
    assert not os.path.exists(tmp_path / "m.pt")


def test_unlabelled_folder(tmp_path):
    src = tmp_path / "flat"
    write_colour_dataset(src, per_class=3, classes=("red",))
    for name in os.listdir(src / "red"):
        shutil.move(str(src / "red" / name), str(src / name))
    os.rmdir(src / "red")
    with pytest.raises(FinetuneDataError, match=r"has no class labels; fine-tuning needs a folder with one sub-folder per class"):
        finetune(str(src), tmp_path / "m.pt", **TINY)


def test_class_too_small_for_validation_split(tmp_path):
    src = write_colour_dataset(tmp_path / "c", per_class=6, classes=("red", "green"))
    for name in sorted(os.listdir(os.path.join(src, "green")))[2:]:
        os.unlink(os.path.join(src, "green", name))
    with pytest.raises(FinetuneDataError, match=r"class 'green' has 2 image\(s\): too few for a 0.2 validation split.*--val-fraction 0"):
        finetune(src, tmp_path / "m.pt", **TINY)


def test_unknown_strategy_and_k_too_large(colour_dataset, tmp_path):
    with pytest.raises(FinetuneConfigError, match=r"unknown strategy 'top:2'"):
        finetune(colour_dataset, tmp_path / "m.pt", strategy="top:2", **TINY)
    with pytest.raises(FinetuneConfigError, match=r"partial:9 asks for 9 blocks but timm:tf_efficientnet_lite0 has 8 block groups"
                                                  r" \(conv_stem\+bn1, blocks.0, .*\); use K between 1 and 8"):
        finetune(colour_dataset, tmp_path / "m.pt", strategy="partial:9", **TINY)
    with pytest.raises(FinetuneConfigError, match=r"partial:6 asks for 6 blocks but torchvision:resnet18 has 5"):
        finetune(colour_dataset, tmp_path / "m.pt", model="resnet18", strategy="partial:6", **TINY)


def test_weights_of_another_architecture(colour_dataset, tmp_path):
    path = tmp_path / "resnet18.pt"
    torch.save(build_architecture("torchvision", "resnet18").state_dict(), path)
    with pytest.raises(WeightsError, match=r"do not match the architecture"):
        finetune(colour_dataset, tmp_path / "m.pt", **{**TINY, "weights": str(path)})


def test_output_that_is_not_a_featx_checkpoint(colour_dataset, tmp_path):
    out = tmp_path / "m.pt"
    torch.save({"something": torch.zeros(1)}, out)
    with pytest.raises(CheckpointError, match=r"is not a featx checkpoint"):
        finetune(colour_dataset, out, strategy="head", epochs=1, **TINY)
    with pytest.raises(CheckpointError, match=r"is not a featx checkpoint"):
        predict_with_checkpoint(str(out), colour_dataset)
    with pytest.raises(CheckpointError, match=r"does not exist; check the path or run 'featx finetune' first"):
        predict_with_checkpoint(str(tmp_path / "missing.pt"), colour_dataset)


@pytest.mark.parametrize("extra,message", [
    (["--strategy", "partial:12"], "error: strategy partial:12 asks for 12 blocks"),
    (["--strategy", "sideways"], "error: unknown strategy 'sideways'"),
    (["--epochs", "0", "--lr", "-1"], "error: epochs must be a whole number >= 1; got 0; lr must be > 0; got -1.0"),
    (["--model", "resnet1000"], "error: unknown model 'resnet1000'"),
])
def test_cli_prints_one_error_line_and_exits_2(colour_dataset, tmp_path, capsys, extra, message):
    code = main(["finetune", colour_dataset, "-o", str(tmp_path / "m.pt"), "--weights", "none", "--input-size", "32",
                 "--workers", "0", *extra])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), err
