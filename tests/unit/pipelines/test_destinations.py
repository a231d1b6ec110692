"""Output and JSON destinations are checked before any work, with one line (issue 21, items 3
and 6): a missing folder, a folder as the target, overwrite rules; a folder given as a cache."""

from __future__ import annotations

import os

import pytest
import torchvision.models as tvm

from featx.common.files import destination_problem
from featx.extract import Backbone, ModelSpec, Preprocessing, extract
from featx.extract.models._weights import state_dict_sha256
from featx.pipelines.cli import main


def _tiny_cache(source, out) -> str:
    module = tvm.resnet18(num_classes=3).eval()
    backbone = Backbone(module, ModelSpec("tv_tiny", "torchvision", "resnet18"), Preprocessing(crop_size=32, resize_size=36),
                        "none (random init, seed 0)", state_dict_sha256(module))
    extract(source, out, backbone=backbone, runtime="torch", progress=False, workers=0)
    return str(out)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    return err[0]


@pytest.mark.parametrize("command", ["audit", "cv"])
def test_json_into_a_missing_folder_fails_before_the_work(command, colour_dataset, tmp_path, capsys, monkeypatch):
    cache = _tiny_cache(colour_dataset, tmp_path / "c.h5")
    monkeypatch.chdir(tmp_path)
    assert main([command, cache, "--json", "nofolder/x/a.json"]) == 2
    out = capsys.readouterr()
    line = out.err.strip()
    assert line.count("\n") == 0 and "nofolder/x" in line and "does not exist" in line and ".tmp-" not in line
    assert out.out == ""  # no audit or CV summary was printed: nothing ran


@pytest.mark.parametrize("command", ["audit", "cv"])
def test_json_onto_a_folder_with_overwrite_is_one_clear_line(command, colour_dataset, tmp_path, capsys):
    cache = _tiny_cache(colour_dataset, tmp_path / "c.h5")
    (tmp_path / "emptydir").mkdir()
    assert main([command, cache, "--json", str(tmp_path / "emptydir"), "--overwrite"]) == 2
    line = _one_error_line(capsys)
    assert "is a folder" in line and "Is a directory" not in line and ".tmp-" not in line


def test_destination_rules():
    assert destination_problem(__file__, "--json") .endswith("pass --overwrite to replace it, or choose another path")
    assert destination_problem(__file__, "--json", True) is None
    assert "is a folder" in destination_problem(os.path.dirname(__file__), "-o", True)
    assert "does not exist" in destination_problem("/nonexistent-featx/a.json", "finetune.json")


def test_overwrite_onto_a_folder_does_not_say_free_disk_space(colour_dataset, tmp_path, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    code = main(["extract", colour_dataset, "-o", str(folder), "--model", "torchvision:resnet18", "--weights", "none",
                 "--runtime", "torch", "--workers", "0", "--overwrite"])
    assert code == 2
    line = _one_error_line(capsys)
    assert "is a folder" in line and "disk space" not in line


def test_info_on_a_folder_does_not_advise_deleting_it(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 2
    line = _one_error_line(capsys)
    assert "is a folder" in line and "delete" not in line
