"""What ``featx cv`` and ``featx fit`` say and record about copies and LogME (issue 21, "Other
problems"): the CV JSON holds LogME under --logme and the dedupe and conflicts modes; fit, which
does no CV, says nothing about CV groups."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torchvision.models as tvm

from featx.extract import Backbone, ModelSpec, Preprocessing, extract
from featx.extract.models._weights import state_dict_sha256
from featx.pipelines.cli import main
from helpers.testdata import write_colour_dataset


@pytest.fixture(scope="module")
def cache_with_copies(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("copies")
    source = write_colour_dataset(str(root / "colours"))
    first = sorted(os.listdir(os.path.join(source, "red")))[0]
    shutil.copy(os.path.join(source, "red", first), os.path.join(source, "red", "copy_" + first))  # an exact copy
    module = tvm.resnet18(num_classes=3).eval()
    backbone = Backbone(module, ModelSpec("tv_tiny", "torchvision", "resnet18"), Preprocessing(crop_size=32, resize_size=36),
                        "none (random init, seed 0)", state_dict_sha256(module))
    out = str(root / "c.h5")
    extract(source, out, backbone=backbone, runtime="torch", progress=False, workers=0, layers=["layer3", "avgpool"])
    return out


def test_cv_json_records_logme_and_the_duplicate_modes(cache_with_copies, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["cv", cache_with_copies, "--heads", "centroid", "--folds", "3", "--logme", "--conflicts", "keep",
                 "--json", str(out)]) == 0
    records = json.loads(out.read_text())
    logme = [r for r in records if r.get("kind") == "logme"]
    assert len(logme) == 1 and len(logme[0]["rows"]) == 2  # one LogME per feature set (layer)
    assert all(isinstance(row["logme"], float) and row["cv"] is not None for row in logme[0]["rows"])
    assert all(r["dedupe"] == "warn" and r["conflicts"] == "keep" for r in records)


def test_fit_does_not_speak_of_cv_groups(cache_with_copies, tmp_path, capsys):
    assert main(["fit", cache_with_copies, "--layer", "avgpool", "--head", "centroid", "-o", str(tmp_path / "b.skops")]) == 0
    err = capsys.readouterr().err
    assert "exact copies" in err  # the copies are still reported
    assert "CV group" not in err and "fold" not in err
