"""The settings that are more than one plain value (PCA, learning-curve fractions, string lists),
grid override values, the most often chosen hyperparameters and the content digests: each
defined once in featx.classify / featx.common and read by the spec and the CLI."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from featx.classify import (FRACTIONS, PCA, FeatureSet, GridError, features_digest, grid_values, most_common_params,
                            splits_digest)
from featx.common import OptionError
from featx.common.option_lists import ListOption


@pytest.mark.parametrize("value, expected", [(None, None), (False, None), ("off", None), (" None ", None),
                                             ("search", "search"), ("SEARCH", "search"), (64, 64), (0.95, 0.95)])
def test_pca_accepts_off_search_components_and_fractions(value, expected):
    assert PCA.check(value) == expected


@pytest.mark.parametrize("value, message", [
    ("serch", r"^pca: expected 'off', 'search', an integer >= 1 or a float in \(0, 1\), got 'serch'; did you mean 'search'\?"),
    (0, r"^pca: an integer number of components must be >= 1, got 0 \(use 'off' to disable PCA\)$"),
    (1.5, r"^pca: a variance fraction must be in \(0, 1\), got 1\.5"),
    (True, r"^pca: expected 'off', .* got true \(a boolean\)$"),
    ([0.9], r"^pca: expected 'off', .* \(an array\)$"),
])
def test_pca_refuses_other_values_saying_what_it_expects(value, message):
    with pytest.raises(OptionError, match=message):
        PCA.check(value)


def test_pca_flag_reads_text_and_shows_its_default():
    parser = argparse.ArgumentParser()
    PCA.add_argument(parser)
    read = {text: parser.parse_args(["--pca", text]).pca for text in ("off", "0", "64", "64.0", "0.95", "search")}
    assert read == {"off": None, "0": None, "64": 64, "64.0": 64, "0.95": 0.95, "search": "search"}
    assert isinstance(read["64.0"], int) and parser.parse_args([]).pca is None
    assert "(default off)" in " ".join(parser.format_help().split())
    for bad in ("1.5", "lots"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--pca", bad])


def test_pca_describes_itself_for_the_report():
    assert [PCA.describe(v) for v in (None, "search", 32, 0.95)] == [
        "off", "searched over the default grid", "32 components", "0.95 of the variance kept"]
    assert PCA.doc.startswith("'off', 'search', integer >= 1")


def test_fractions_are_increasing_numbers_in_0_1():
    assert FRACTIONS.check([0.1, 0.5, 1]) == (0.1, 0.5, 1.0) and FRACTIONS.default == (0.1, 0.25, 0.5, 0.75, 1.0)
    for bad, message in (([], "non-empty array"), ([0.5, 0.1], "increasing fractions"), ([0.5, 0.5], "without repeats"),
                         ([0.0, 0.5], r"numbers in \(0, 1\], got 0\.0 \(a float\)$"), ([True], "got true")):
        with pytest.raises(OptionError, match=message):
            FRACTIONS.check(bad, "report.fractions")


def test_grid_values_clean_one_override():
    assert grid_values([0.1, "none", "None", True]) == (0.1, None, None, True)
    assert grid_values(3) == (3,) and grid_values("sqrt") == ("sqrt",)
    with pytest.raises(GridError, match=r"^empty value list; give at least one value$"):
        grid_values([])
    with pytest.raises(GridError, match=r"^values must be numbers, strings or booleans, got \[1\] \(an array\)$"):
        grid_values([[1], 2])


def test_most_common_params_counts_folds():
    assert most_common_params([]) == ({}, 0)
    assert most_common_params([{"C": 1}, {"C": 0.1}, {"C": 1}]) == ({"C": 1}, 2)


def test_digests_change_with_the_content_only():
    fs = FeatureSet(name="a", X=np.eye(4, dtype=np.float32), y=np.array([0, 1, 0, 1]), class_names=["x", "y"],
                    groups=np.array(["g", "g", "h", "h"]))
    same = FeatureSet(name="b", X=np.eye(4, dtype=np.float64), y=fs.y, class_names=["x", "y"], groups=fs.groups)
    other_y = FeatureSet(name="a", X=fs.X, y=np.array([1, 0, 0, 1]), class_names=["x", "y"], groups=fs.groups)
    no_groups = FeatureSet(name="a", X=fs.X, y=fs.y, class_names=["x", "y"])
    assert features_digest(fs) == features_digest(same) != features_digest(other_y)
    assert features_digest(fs) != features_digest(no_groups) == features_digest(fs, groups=False)
    folds = [(np.array([0, 1]), np.array([2, 3])), (np.array([2, 3]), np.array([0, 1]))]
    assert splits_digest(folds) == splits_digest([(list(a), list(b)) for a, b in folds]) != splits_digest(folds[::-1])


def test_list_option_checks_entries():
    heads = ListOption("heads", ("a",), "heads", choices=("a", "b"))
    assert ListOption("layers", (), "layers").check([" x ", "y"]) == ("x", "y")
    assert heads.check(["a", "b"]) == ("a", "b") and heads.doc == "array of strings from a, b"
    for bad, message in (("a", r"such as \['a'\]"), ([], "at least 1 entry"), (["c"], "unknown value 'c'"),
                         (["a", "a"], "lists 'a' twice"), ([" "], r"non-empty strings, got \" \" \(a string\)$")):
        with pytest.raises(OptionError, match=message):
            heads.check(bad)
    assert ListOption("notes", (), "notes", min_len=0, unique=False).check(["x", "x"]) == ("x", "x")
