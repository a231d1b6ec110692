"""The spec's schema is made of the settings' own definitions: docs/spec.md is rendered from it,
the [extraction] and [cv] tables are featx.extract's and featx.classify's Options, a new setting
is one Option, and the search metric reaches the CV and its cache key."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from featx.classify import CV_OPTIONS, FOLDS, JOBS, METRIC, NESTED, SEARCH_METRIC
from featx.extract import EXTRACTION_OPTIONS, POOL
from featx.pipelines import SpecError
from featx.pipelines.stages._keys import cv_key, extraction_key
from featx.pipelines._spec import SCHEMA, BackboneSpec, ExtractionSpec, ResolvedBackbone, load_spec
from featx.pipelines._spec_docs import key_reference

from helpers.testdata import write_colour_dataset
from helpers.pipeline import tiny_spec
from helpers.spec_docs import DOCS, REGENERATE, with_reference



@pytest.fixture
def source(tmp_path):
    return write_colour_dataset(tmp_path / "colours", per_class=3)


def test_docs_spec_md_holds_the_key_reference_rendered_from_the_schema():
    with open(DOCS, encoding="utf-8") as fh:  # read only: the test never writes the file
        docs = fh.read()
    reference = key_reference()
    assert with_reference(docs) == docs, (
        f"docs/spec.md's key tables differ from the schema; regenerate them with `{REGENERATE}` and commit docs/spec.md")
    assert "\n## Keys\n\n" + reference + "\n### Grid overrides" in docs
    assert "| `extraction.precision` | string (auto / fp32 / bf16 / fp16) | `\"auto\"` |" in reference
    assert "| `sources.path` | string | **required** |" in reference
    assert "| `classify.pca` | 'off', 'search'" in reference and "| `\"off\"` |" in reference
    assert "| `cv.search_metric` | string (accuracy / balanced_accuracy / f1_macro / roc_auc / log_loss) | – |" in reference
    rows = re.findall(r"^\| `([\w.]+)` \|", reference, re.M)
    assert rows == [f"{t}.{k}" if t else k for t, keys in SCHEMA.items() for k in keys]


def test_tables_are_the_libraries_options():
    assert tuple(SCHEMA["extraction"].values()) == EXTRACTION_OPTIONS
    assert SCHEMA["backbones"]["pool"] is POOL
    assert SCHEMA["cv"]["folds"] is FOLDS and SCHEMA["cv"]["search_metric"] is SEARCH_METRIC
    assert SCHEMA["classify"]["jobs"] is JOBS
    assert [o.name for o in CV_OPTIONS] == [k for k in SCHEMA["cv"] if k not in ("scheme", "search_metric", "dedupe", "conflicts")]
    from featx.classify import CONFLICTS, DEDUPE

    assert SCHEMA["cv"]["dedupe"] is DEDUPE and SCHEMA["cv"]["conflicts"] is CONFLICTS
    # the one deliberate difference: a study tunes hyperparameters unless told otherwise
    assert NESTED.default is False and SCHEMA["cv"]["nested"].default is True
    assert SCHEMA["metrics"]["main"].choices == METRIC.choices and SCHEMA["metrics"]["main"].default == METRIC.default
    assert ExtractionSpec().as_dict() == {o.name: o.default for o in EXTRACTION_OPTIONS}


def test_a_new_extraction_setting_is_one_option_in_featx_extract(tmp_path, source):
    """Appending an Option to featx.extract's EXTRACTION_OPTIONS is all a spec key needs."""
    code = f"""
import dataclasses, featx.extract as fe
from featx.common import Option
fe.EXTRACTION_OPTIONS = fe.EXTRACTION_OPTIONS + (Option("runtime", "torch", "inference runtime", choices=("torch", "openvino")),)
from featx.pipelines import SpecError
from featx.pipelines._spec import load_spec
from featx.pipelines._spec_docs import key_reference
spec = load_spec({{"sources": [{{"path": {source!r}}}], "extraction": {{"runtime": "openvino"}}}})
assert spec.extraction.runtime == "openvino" and spec.to_dict()["extraction"]["runtime"] == "openvino"
assert load_spec({{"sources": [{{"path": {source!r}}}]}}).extraction.runtime == "torch"
try:
    load_spec({{"sources": [{{"path": {source!r}}}], "extraction": {{"runtime": "openvno"}}}})
except SpecError as exc:
    print(exc.problems[0])
assert "| `extraction.runtime` | string (torch / openvino) | `\\"torch\\"` | Inference runtime. |" in key_reference()
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "extraction.runtime: unknown value 'openvno'; did you mean 'openvino'? choose from: torch, openvino"


def test_messages_come_from_the_options(source, tmp_path):
    with pytest.raises(SpecError) as info:
        load_spec(tiny_spec(source, str(tmp_path / "o"), extraction={"precision": "bf61"}))
    assert info.value.problems == ["extraction.precision: unknown value 'bf61'; did you mean 'bf16'? choose from: auto, fp32, bf16, fp16"]


def test_search_metric_follows_the_ranking_metric_unless_set(source, tmp_path):
    out = str(tmp_path / "o")
    assert load_spec(tiny_spec(source, out)).search_metric == "balanced_accuracy"
    assert load_spec(tiny_spec(source, out, metrics={"main": "f1_macro"})).search_metric == "f1_macro"
    spec = load_spec(tiny_spec(source, out, metrics={"main": "f1_macro"}, cv={"search_metric": "accuracy"}))
    assert spec.search_metric == "accuracy" and spec.cv.search_metric == "accuracy"
    assert spec.to_dict()["cv"]["search_metric"] == "accuracy"
    assert "search_metric" not in load_spec(tiny_spec(source, out)).to_dict()["cv"]  # None: left out (TOML has no null)
    with pytest.raises(SpecError) as info:
        load_spec(tiny_spec(source, out, cv={"search_metric": "f1_macr"}))
    assert re.match(r"cv\.search_metric: unknown value 'f1_macr'; did you mean 'f1_macro'\?", info.value.problems[0])


def test_cv_cache_key_holds_the_search_metric_of_a_nested_cv(source, tmp_path):
    out = str(tmp_path / "o")

    def key(**overrides):
        return cv_key(load_spec(tiny_spec(source, out, **overrides)), "features", "splits", "logreg")

    assert key() == key(metrics={"show": ["accuracy"]})  # the columns shown change no result
    assert key() != key(metrics={"main": "f1_macro"}) != key(metrics={"main": "f1_macro"}, cv={"search_metric": "accuracy"})
    assert key() == key(cv={"search_metric": "balanced_accuracy"})  # the same search either way
    plain = {"nested": False}
    assert key(cv=plain, classify={"grids": {}}) == key(cv=plain, classify={"grids": {}}, metrics={"main": "f1_macro"})


def test_extraction_key_holds_what_shapes_features_only(source, tmp_path):
    spec = load_spec(tiny_spec(source, str(tmp_path / "o")))
    rb = ResolvedBackbone(BackboneSpec(name="b", model="m", layers=("x",)), None, ["x"], {}, {}, {},
                          {"source": "builtin", "arch": "a", "weights_sha256": "0" * 64, "preprocessing": {}})
    key = extraction_key(source, rb, spec)
    assert sorted(key) == sorted(["source", "model_source", "arch", "weights_sha256", "preprocessing", "layers", "pool",
                                  "dtype", "tta", "jpeg_draft", "max_pixels", "runtime"])
    faster = spec.replace(extraction=ExtractionSpec(**{**spec.extraction.as_dict(), "batch_size": 7, "device": "cpu"}))
    assert extraction_key(source, rb, faster) == key
    other = spec.replace(extraction=ExtractionSpec(**{**spec.extraction.as_dict(), "tta": "hflip"}))
    assert extraction_key(source, rb, other)["tta"] == "hflip"
