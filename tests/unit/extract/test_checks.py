"""featx.extract's problem-collecting checks (check_source, check_model, check_backbone): what the
pipeline spec reports before a study starts, on real folders, real model names and a real backbone."""

from __future__ import annotations

import os
import sys
import subprocess

import pytest

from featx.extract import (Backbone, LayerResolution, ResolvedBackbone, SourceTable, check_backbone, check_model, check_source,
                           resolve_backbone)

def test_a_labelled_folder_passes(colour_dataset):
    table, problems = check_source(colour_dataset)
    assert problems == [] and isinstance(table, SourceTable)
    assert len(table.class_names) >= 2 and not any(table.groups)


def test_the_real_hymenoptera_folder_passes(shared_data):
    table, problems = check_source(os.path.join(shared_data("hymenoptera"), "train"))
    assert problems == [] and table.class_names == ["ants", "bees"]


def test_a_missing_an_unlabelled_and_a_one_class_source(tmp_path, colour_dataset):
    table, problems = check_source(str(tmp_path / "nowhere"))
    assert table is None and len(problems) == 1 and "nowhere" in problems[0]
    flat = tmp_path / "flat"
    flat.mkdir()
    first = sorted(os.listdir(colour_dataset))[0]
    image = sorted(os.listdir(os.path.join(colour_dataset, first)))[0]
    (flat / image).write_bytes(open(os.path.join(colour_dataset, first, image), "rb").read())
    table, problems = check_source(str(flat))
    assert table is None and problems == [f"{str(flat)!r} has no labels (no class sub-folders or label column); "
                                          "a study needs labelled images"]
    table, problems = check_source(str(flat), labelled=False)
    assert problems == [] and table.class_names == []
    one = tmp_path / "one"
    (one / first).mkdir(parents=True)
    (one / first / image).write_bytes((flat / image).read_bytes())
    table, problems = check_source(str(one))
    assert table is not None and problems == [f"{str(one)!r} has one class only ({first!r}); a classifier needs at least 2"]


def test_check_model_names_unknown_models_and_missing_checkpoints_without_torch(tmp_path):
    assert check_model("efficientnet_lite0") == []
    [unknown] = check_model("efficientnet_lite9")
    assert "unknown model 'efficientnet_lite9'" in unknown and "efficientnet_lite0" in unknown  # a suggestion
    code = "import sys; from featx.extract import check_model; check_model('resnet18'); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_check_backbone_builds_resolves_and_collects_layer_problems():
    backbone, found, problems = check_backbone("efficientnet_lite0", "none", ["penultimate", "blocks.1", "blocks.99"])
    assert isinstance(backbone, Backbone) and isinstance(found, LayerResolution)
    assert found.names == ["global_pool", "blocks.1"] and found.dims == {"global_pool": 1280, "blocks.1": 24}
    assert [what for what, _m in problems] == ["layers"] and "blocks.99" in problems[0][1]
    assert check_backbone("efficientnet_lite0", "none")[2] == []  # layers=None: the penultimate layer


def test_check_backbone_reports_bad_weights_and_models_by_field(tmp_path):
    backbone, found, problems = check_backbone("efficientnet_lite0", str(tmp_path / "w.pt"))
    assert backbone is None and found is None
    assert len(problems) == 1 and problems[0][0] == "weights" and "does not exist" in problems[0][1]
    backbone, found, problems = check_backbone("efficientnet_lite9", "none")
    assert backbone is None and [w for w, _m in problems] == ["model"]


def test_resolve_backbone_gives_a_record_in_network_order_or_none(tmp_path):
    resolved, problems = resolve_backbone("efficientnet_lite0", "none", ["penultimate", "blocks.3", "blocks.1", "blocks.99"],
                                          spec="asked")
    assert isinstance(resolved, ResolvedBackbone) and isinstance(resolved.backbone, Backbone) and resolved.spec == "asked"
    assert resolved.layers == ["blocks.1", "blocks.3", "global_pool"]
    assert resolved.dims == {"blocks.1": 24, "blocks.3": 80, "global_pool": 1280}
    assert resolved.aliases["global_pool"] == "penultimate"
    assert resolved.order["blocks.1"] < resolved.order["blocks.3"] < resolved.order["global_pool"]
    assert resolved.provenance["weights"].startswith("none") and resolved.preprocessing
    assert [what for what, _m in problems] == ["layers"] and "blocks.99" in problems[0][1]
    assert (resolved.label("global_pool"), resolved.label("blocks.1")) == ("global_pool (penultimate)", "blocks.1")
    record = resolved.as_record()
    assert record["provenance"] == resolved.provenance and record["preprocessing"] == resolved.preprocessing
    assert [(r["name"], r["as_written"], r["dim"]) for r in record["layers"]] == [
        ("blocks.1", "blocks.1", 24), ("blocks.3", "blocks.3", 80), ("global_pool", "penultimate", 1280)]
    assert [r["depth"] for r in record["layers"]] == [resolved.order[n] for n in resolved.layers]
    resolved, problems = resolve_backbone("efficientnet_lite0", str(tmp_path / "w.pt"))
    assert resolved is None and [what for what, _m in problems] == ["weights"]
