"""The classify settings as the command line writes them: the head list (one comma-separated flag,
the same definition as the spec's classify.heads) and ``HEAD:PARAM=V1,V2`` grid overrides."""

from __future__ import annotations

import argparse

import pytest

from featx.classify import HEAD_LIST, HEADS, GridError, parse_grid_text, resolve_grid
from featx.common import OptionError


def _parser():
    p = argparse.ArgumentParser(exit_on_error=False)
    HEAD_LIST.add_argument(p)
    return p


def test_the_head_list_default_is_one_definition_for_the_cli_and_the_spec():
    assert HEAD_LIST.name == "heads" and HEAD_LIST.choices == HEADS
    assert _parser().parse_args([]).heads == HEAD_LIST.default == ("logreg", "svm", "rf", "xgb")
    assert HEAD_LIST.check(["rf", "knn"]) == ("rf", "knn")


def test_comma_text_is_split_stripped_and_checked_like_a_spec_array():
    assert _parser().parse_args(["--heads", "logreg, centroid,"]).heads == ("logreg", "centroid")
    with pytest.raises(argparse.ArgumentError, match=r"unknown value 'sv'; did you mean 'svm'"):
        _parser().parse_args(["--heads", "logreg,sv"])
    with pytest.raises(argparse.ArgumentError, match=r"lists 'rf' twice"):
        _parser().parse_args(["--heads", "rf,rf"])
    with pytest.raises(argparse.ArgumentError, match=r"at least 1 entry"):
        _parser().parse_args(["--heads", ","])
    with pytest.raises(OptionError, match=r"^heads: expected an array of strings such as \['rf'\]"):
        HEAD_LIST.check("rf")


def test_the_help_lists_the_choices_and_the_default():
    text = " ".join(_parser().format_help().split())
    assert "separated; from logreg, svm, svm_rbf" in text and "default logreg,svm,rf,xgb)" in text


def test_grid_text_reads_numbers_words_and_strings():
    grids = parse_grid_text(["logreg:clf__C=0.1, 1,10", "svm:clf__class_weight=none,balanced", "rf:clf__bootstrap=true,False"])
    assert grids == {"logreg": {"clf__C": [0.1, 1, 10]}, "svm": {"clf__class_weight": [None, "balanced"]},
                     "rf": {"clf__bootstrap": [True, False]}}
    assert [type(v) for v in grids["logreg"]["clf__C"]] == [float, int, int]
    assert resolve_grid("logreg", grids["logreg"])["clf__C"] == [0.1, 1, 10]  # usable as an override
    assert parse_grid_text(["logreg:clf__C=1", "logreg:clf__C=2"]) == {"logreg": {"clf__C": [2]}}  # the last wins


@pytest.mark.parametrize("text", ["logreg:C", "logreg", ":clf__C=1", "logreg:=1", "logreg:clf__C="])
def test_grid_text_of_another_shape_is_a_grid_error_naming_the_flag(text):
    with pytest.raises(GridError, match=rf"^--grid '{text}' is not HEAD:PARAM=V1,V2 \(e\.g\. logreg:clf__C=0\.1,1,10\)$"):
        parse_grid_text([text], what="--grid")
    with pytest.raises(GridError, match=r"^grid override "):
        parse_grid_text([text])
