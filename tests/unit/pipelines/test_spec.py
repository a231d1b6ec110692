"""Spec loading and validation: every kind of problem, all reported at once, exit code 2."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib

import pytest

from featx.pipelines import SpecError
from featx.pipelines._example_spec import EXAMPLE_SPEC
from featx.pipelines._spec import SCHEMA, Spec, check_backbones, load_spec, to_toml
from featx.pipelines._spec_docs import key_reference
from featx.pipelines.cli import main

from helpers.testdata import write_colour_dataset
from helpers.pipeline import tiny_spec

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def source(tmp_path):
    return write_colour_dataset(tmp_path / "colours", per_class=4)


def problems_of(spec, **kw) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(spec, **kw)
    return info.value.problems


def one_problem(spec, pattern: str) -> str:
    problems = problems_of(spec)
    assert len(problems) == 1, problems
    assert re.search(pattern, problems[0]), problems[0]
    return problems[0]


# -- valid specs ----------------------------------------------------------------------------------


def test_minimal_spec_fills_defaults_and_is_frozen(source, tmp_path):
    spec = load_spec({"sources": [{"path": source}]}, base_dir=str(tmp_path))
    assert isinstance(spec, Spec)
    assert spec.sources[0].name == "colours" and spec.sources[0].path == source
    assert spec.backbones[0].model == "efficientnet_lite0" and spec.backbones[0].layers == ("penultimate",)
    assert spec.classify.heads == ("logreg", "svm", "rf", "xgb")
    assert spec.classify.pca is None
    assert spec.cv.nested is True and spec.cv.folds == 5 and spec.cv.scheme == "stratified"
    assert spec.metrics.main == "balanced_accuracy"
    assert spec.output == os.path.join(str(tmp_path), "featx-out", "study")
    assert spec.cache_folder == os.path.join(spec.output, "cache")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.cv.folds = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.title = "x"


def test_relative_paths_resolve_against_the_spec_file(tmp_path):
    write_colour_dataset(tmp_path / "study" / "imgs", per_class=3)
    path = tmp_path / "study" / "s.toml"
    path.write_text('output = "out"\ncache_dir = "../shared-cache"\n[[sources]]\npath = "imgs"\n')
    spec = load_spec(str(path))
    assert spec.sources[0].path == str(tmp_path / "study" / "imgs")
    assert spec.output == str(tmp_path / "study" / "out")
    assert spec.cache_folder == str(tmp_path / "shared-cache")
    assert spec.origin == str(path) and "imgs" in spec.text


def test_values_are_normalised(source, tmp_path):
    spec = load_spec(tiny_spec(source, str(tmp_path / "o"), classify={"pca": "OFF", "grids": {"logreg": {"clf__C": 0.5}}},
                               extraction={"workers": "auto"}))
    assert spec.classify.pca is None
    assert spec.classify.grid_overrides("logreg") == {"clf__C": [0.5]}
    assert spec.extraction.workers is None
    spec = load_spec(tiny_spec(source, str(tmp_path / "o"), classify={"pca": 32, "grids": {}}))
    assert spec.classify.pca == 32


def test_none_in_grids_means_python_none(source, tmp_path):
    spec = load_spec(tiny_spec(source, str(tmp_path / "o"), classify={"heads": ["rf"], "grids": {"rf": {"clf__max_depth": ["none", 8]}}}))
    assert spec.classify.grid_overrides("rf") == {"clf__max_depth": [None, 8]}


# -- every kind of problem ----------------------------------------------------------------------------


def test_unknown_keys_get_close_matches(source, tmp_path):
    spec = tiny_spec(source, str(tmp_path / "o"), cv={"fold": 3})
    one_problem(spec, r"^cv\.fold: unknown key; did you mean 'folds'\?")
    spec = tiny_spec(source, str(tmp_path / "o"))
    spec["sorces"] = spec.pop("sources")
    problems = problems_of(spec)
    assert any(re.match(r"sorces: unknown key; did you mean 'sources'\?", p) for p in problems), problems
    assert any(re.match(r"sources: missing \(required\)", p) for p in problems), problems
    spec = tiny_spec(source, str(tmp_path / "o"))
    spec["backbones"][0]["layer"] = ["blocks.1"]
    one_problem(spec, r"backbones\[0\]\.layer: unknown key; did you mean 'layers'\?")


def test_wrong_types_name_the_expected_type(source, tmp_path):
    cases = [
        ({"cv": {"folds": "5"}}, r'^cv\.folds: expected an integer >= 2, got "5" \(a string\)'),
        ({"cv": {"folds": 1}}, r"^cv\.folds: expected an integer >= 2, got 1"),
        ({"cv": {"nested": "yes"}}, r'^cv\.nested: expected true or false, got "yes"'),
        ({"cv": {"scheme": "stratifed"}}, r"^cv\.scheme: unknown value 'stratifed'; did you mean 'stratified'\?"),
        ({"extraction": {"batch_size": 0}}, r"^extraction\.batch_size: expected an integer >= 1, got 0"),
        ({"extraction": {"dtype": "float64"}}, r"^extraction\.dtype: unknown value 'float64'.*float16, float32"),
        ({"classify": {"pca": 1.5}}, r"^classify\.pca: a variance fraction must be in \(0, 1\), got 1\.5"),
        ({"classify": {"pca": "serch"}}, r"^classify\.pca: .*did you mean 'search'\?"),
        ({"classify": {"jobs": 0}}, r"^classify\.jobs: expected an integer >= 1 or -1"),
        ({"report": {"fractions": [0.5, 0.2]}}, r"^report\.fractions: expected increasing fractions"),
        ({"metrics": {"main": "acuracy"}}, r"^metrics\.main: unknown value 'acuracy'; did you mean 'accuracy'\?"),
        ({"cv": []}, r"^cv: expected a table, got \[\] \(an array\)"),
        ({"title": 3}, r"^title: expected a string, got 3 \(an integer\)"),
    ]
    for override, pattern in cases:
        one_problem(tiny_spec(source, str(tmp_path / "o"), **override), pattern)
    spec = tiny_spec(source, str(tmp_path / "o"))
    spec["backbones"][0]["layers"] = "blocks.1"
    one_problem(spec, r"^backbones\[0\]\.layers: expected an array of strings such as \['blocks\.1'\]")


def test_missing_and_unusable_paths(tmp_path):
    spec = tiny_spec(str(tmp_path / "nowhere"), str(tmp_path / "o"))
    one_problem(spec, r"^sources\[0\]\.path: '.*nowhere' does not exist")
    (tmp_path / "empty").mkdir()
    one_problem(tiny_spec(str(tmp_path / "empty"), str(tmp_path / "o")), r"^sources\[0\]\.path: no images found")
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,label\na.png,x\n")
    one_problem(tiny_spec(str(manifest), str(tmp_path / "o")), r"^sources\[0\]\.path: manifest .* has no 'path' column")
    flat = tmp_path / "flat"
    write_colour_dataset(flat, per_class=2)
    os.rename(flat / "red" / "red_001.png", flat / "loose.png")
    for cls in ("red", "green", "blue"):
        for f in os.listdir(flat / cls):
            os.rename(flat / cls / f, flat / f"{cls}_{f}")
        os.rmdir(flat / cls)
    one_problem(tiny_spec(str(flat), str(tmp_path / "o")), r"has no labels")
    (tmp_path / "file").write_text("x")
    spec = tiny_spec(str(tmp_path / "nowhere"), str(tmp_path / "file"))
    problems = problems_of(spec)
    assert any(p.startswith("output: ") and "not a folder" in p for p in problems), problems


def test_unknown_model_and_head_get_suggestions(source, tmp_path):
    spec = tiny_spec(source, str(tmp_path / "o"))
    spec["backbones"][0]["model"] = "efficientnet_lite"
    one_problem(spec, r"^backbones\[0\]\.model: unknown model 'efficientnet_lite'; did you mean .*'efficientnet_lite0'")
    spec = tiny_spec(source, str(tmp_path / "o"), classify={"heads": ["lgreg", "centroid"], "grids": {}})
    one_problem(spec, r"^classify\.heads: unknown value 'lgreg'; did you mean 'logreg'\?")
    spec = tiny_spec(source, str(tmp_path / "o"))
    spec["backbones"][0]["model"] = "timm:resnet_nonexistent"
    one_problem(spec, r"^backbones\[0\]\.model: timm has no model 'resnet_nonexistent'")


def test_grid_problems(source, tmp_path):
    spec = tiny_spec(source, str(tmp_path / "o"), classify={"grids": {"logreg": {"clf__CC": [1.0]}}})
    one_problem(spec, r"^classify\.grids\.logreg: unknown grid key .*'clf__CC'.*did you mean 'clf__C'")
    spec = tiny_spec(source, str(tmp_path / "o"), classify={"grids": {"svm": {"clf__C": [1.0]}}})
    one_problem(spec, r"^classify\.grids\.svm: head 'svm' is not in classify\.heads")
    spec = tiny_spec(source, str(tmp_path / "o"), cv={"nested": False})
    one_problem(spec, r"^classify\.grids\.logreg: grids are only searched by nested cross-validation")
    spec = tiny_spec(source, str(tmp_path / "o"), cv={"nested": False}, classify={"pca": "search", "grids": {}})
    one_problem(spec, r"^classify\.pca: 'search' needs nested cross-validation")
    spec = tiny_spec(source, str(tmp_path / "o"), classify={"grids": {"logreg": {"pca__n_components": [8]}}})
    one_problem(spec, r"^classify\.grids\.logreg: grid key 'pca__n_components' needs PCA")


def test_head_pca(source, tmp_path):
    spec = load_spec(tiny_spec(source, str(tmp_path / "o"), classify={"pca": 0.9, "head_pca": {"centroid": "off"}}))
    assert spec.classify.pca_for("logreg") == 0.9 and spec.classify.pca_for("centroid") is None
    assert load_spec(spec.to_dict()).classify == spec.classify
    one_problem(tiny_spec(source, str(tmp_path / "o"), classify={"head_pca": {"xgb": 16}}),
                r"^classify\.head_pca\.xgb: head 'xgb' is not in classify\.heads")
    one_problem(tiny_spec(source, str(tmp_path / "o"), classify={"head_pca": {"logreg": 0}}),
                r"^classify\.head_pca\.logreg: an integer number of components must be >= 1")
    one_problem(tiny_spec(source, str(tmp_path / "o"), classify={"head_pca": {"logreg": "search"}, "grids": {}}, cv={"nested": False}),
                r"^classify\.head_pca\.logreg: 'search' needs nested")
    # a pca__ grid key is fine for the head that has PCA, refused for the one without
    load_spec(tiny_spec(source, str(tmp_path / "o"), classify={"head_pca": {"logreg": 8}, "grids": {"logreg": {"pca__n_components": [4, 8]}}}))


def test_names_and_groups(source, tmp_path):
    spec = tiny_spec(source, str(tmp_path / "o"))
    spec["sources"].append({"name": "colours", "path": source})
    one_problem(spec, r"^sources\[1\]\.name: 'colours' is already the name of sources\[0\]")
    spec = tiny_spec(source, str(tmp_path / "o"))
    spec["backbones"][0]["name"] = "lite 0/x"
    one_problem(spec, r"^backbones\[0\]\.name: 'lite 0/x' is not a usable name")
    one_problem(tiny_spec(source, str(tmp_path / "o"), cv={"scheme": "grouped"}), r"^cv\.scheme: 'grouped' needs groups but source 'colours' has none")


def test_all_problems_are_reported_at_once(tmp_path):
    spec = tiny_spec(str(tmp_path / "missing"), str(tmp_path / "o"), cv={"folds": "3", "nestd": True},
                     classify={"heads": ["logreg", "xgboost"], "grids": {}}, extraction={"tta": "vflip"})
    spec["backbones"][0]["model"] = "resnet5O"
    spec["backbones"][0]["pool"] = "median"
    problems = problems_of(spec)
    expected = [r"^sources\[0\]\.path: .* does not exist", r"^cv\.folds: expected an integer", r"^cv\.nestd: unknown key; did you mean 'nested'",
                r"^classify\.heads: unknown value 'xgboost'; did you mean 'xgb'", r"^extraction\.tta: unknown value 'vflip'",
                r"^backbones\[0\]\.model: unknown model 'resnet5O'; did you mean 'resnet50'", r"^backbones\[0\]\.pool: unknown value 'median'"]
    for pattern in expected:
        assert sum(bool(re.search(pattern, p)) for p in problems) == 1, (pattern, problems)
    assert len(problems) == len(expected), problems


def test_toml_errors(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[cv]\nfolds = \n")
    with pytest.raises(SpecError, match=r"invalid TOML"):
        load_spec(str(path))
    with pytest.raises(SpecError, match=r"does not exist; write one with 'featx run --print-spec"):
        load_spec(str(tmp_path / "none.toml"))


# -- deep checks: the backbone is built and its layers dry-run ---------------------------------------


def test_check_backbones_reports_every_bad_layer_and_weights(source, tmp_path):
    spec = tiny_spec(source, str(tmp_path / "o"))
    spec["backbones"][0]["layers"] = ["blocks.99", "penultimate", "blokcs.2"]
    spec["backbones"].append({"name": "filed", "model": "efficientnet_lite0", "weights": str(tmp_path / "w.pt")})
    problems = problems_of(spec)  # the weights file is a cheap check
    assert len(problems) == 1 and re.match(r"backbones\[1\]\.weights: file '.*w\.pt' does not exist", problems[0])
    spec["backbones"].pop()
    loaded = load_spec(spec)
    with pytest.raises(SpecError) as info:
        check_backbones(loaded)
    problems = info.value.problems
    assert len(problems) == 2, problems
    assert re.match(r"backbones\[0\]\.layers: layer 'blocks\.99' is not present in efficientnet_lite0; did you mean", problems[0])
    assert re.match(r"backbones\[0\]\.layers: layer 'blokcs\.2' is not present .*did you mean 'blocks\.2'", problems[1])


def test_check_backbones_resolves_aliases_in_network_order(source, tmp_path):
    spec = tiny_spec(source, str(tmp_path / "o"))
    spec["backbones"][0]["layers"] = ["penultimate", "blocks.3", "blocks.1"]
    resolved = check_backbones(load_spec(spec))["lite0"]
    assert resolved.layers == ["blocks.1", "blocks.3", "global_pool"]
    assert resolved.aliases["global_pool"] == "penultimate"
    assert resolved.dims == {"blocks.1": 24, "blocks.3": 80, "global_pool": 1280}
    assert resolved.order["blocks.1"] < resolved.order["blocks.3"] < resolved.order["global_pool"]
    assert resolved.provenance["weights"].startswith("none")


def test_cli_reports_problems_with_exit_code_2(tmp_path, capsys):
    path = tmp_path / "study.toml"
    path.write_text('[[sources]]\npath = "missing"\n[cv]\nfolds = "x"\n[classify]\nheads = ["lgreg"]\n')
    code = main(["run", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "\nerror: the spec has 3 problem(s):\n" in "\n" + err
    assert "sources[0].path:" in err and "cv.folds:" in err and "did you mean 'logreg'" in err
    assert "Traceback" not in err


def test_cli_check_validates_layers_without_extracting(source, tmp_path, capsys):
    path = tmp_path / "study.toml"
    path.write_text(f'output = "out"\n[[sources]]\npath = "{source}"\n[[backbones]]\nmodel = "efficientnet_lite0"\n'
                    'weights = "none"\nlayers = ["blocks.4", "penultimate", "blocks.77"]\n')
    assert main(["run", str(path), "--check"]) == 2
    err = capsys.readouterr().err
    assert "layer 'blocks.77' is not present" in err
    path.write_text(path.read_text().replace(', "blocks.77"', ""))
    assert main(["run", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "spec OK: 1 source(s), 1 backbone(s), 2 layer(s), 4 head(s) -> 8 configuration(s)" in out
    assert "global_pool (1280-d) = penultimate" in out
    assert not (tmp_path / "out").exists()


# -- the example spec and the docs --------------------------------------------------------------------


def test_print_spec_is_valid_toml_covering_every_key(capsys):
    assert main(["run", "--print-spec"]) == 0
    text = capsys.readouterr().out
    assert text == EXAMPLE_SPEC
    data = tomllib.loads(text)
    for table, keys in SCHEMA.items():
        for key in keys:
            assert re.search(rf"^#? ?{re.escape(key)} = |^(# )?\[+(\w+\.)?{re.escape(key)}\]+|^\[{re.escape(table)}\.{re.escape(key)}\.",
                             text, re.M), f"{table}.{key} missing from the example spec"
    assert data["backbones"][0]["layers"] == ["blocks.4", "penultimate"]


def test_example_spec_validates(tmp_path):
    study = tmp_path / "work"
    study.mkdir()
    write_colour_dataset(tmp_path / "shared" / "data" / "hymenoptera", per_class=3)
    (study / "study.toml").write_text(EXAMPLE_SPEC)
    spec = load_spec(str(study / "study.toml"))
    assert spec.sources[0].name == "hymenoptera"
    assert spec.classify.grid_overrides("xgb") == {"clf__max_depth": [2, 4], "clf__learning_rate": [0.1]}
    assert spec.classify.pca_for("xgb") == 64 and spec.classify.pca_for("logreg") is None
    resolved = check_backbones(spec)
    assert resolved["lite0"].layers == ["blocks.4", "global_pool"]


def test_docs_show_the_example_spec():
    with open(os.path.join(REPO, "docs", "spec.md"), encoding="utf-8") as fh:
        docs = fh.read()
    assert "\n## Example\n\n```toml\n" + EXAMPLE_SPEC + "```\n" in docs


def test_docs_describe_every_key():
    with open(os.path.join(REPO, "docs", "spec.md"), encoding="utf-8") as fh:
        docs = fh.read()
    for table, keys in SCHEMA.items():
        for key in keys:
            name = f"{table}.{key}" if table else key
            assert f"`{name}`" in docs, f"docs/spec.md does not document `{name}`"


def test_to_toml_round_trips_a_spec_dict(source, tmp_path):
    from featx.pipelines._demo import demo_spec

    for spec in (demo_spec(source, str(tmp_path / "o")), tiny_spec(source, str(tmp_path / "o"))):
        text = to_toml(spec)
        assert tomllib.loads(text) == spec
        assert load_spec(tomllib.loads(text)) == load_spec(spec)
