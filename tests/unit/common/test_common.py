"""featx.common: atomic writes, the JSON normaliser, versions and Option."""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np
import pytest

from featx.common import Option, OptionError, atomic_write, remove_stale_tmp, to_jsonable, versions, write_json
from featx.common.jsonable import nan_from_none

PRECISION = Option("precision", "auto", "autocast precision", choices=("auto", "fp32", "bf16", "fp16"))
WORKERS = Option("workers", None, "worker processes", kind=int, minimum=0, none_word="auto")
DRAFT = Option("jpeg_draft", True, "draft decoding", kind=bool)


def test_atomic_write_replaces_all_or_nothing(tmp_path):
    path = tmp_path / "a.json"
    write_json(path, {"x": 1})
    with pytest.raises(RuntimeError):
        with atomic_write(path, "w") as fh:
            fh.write('{"x": 2')
            raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"x": 1}
    assert os.listdir(tmp_path) == ["a.json"]  # the temporary file went with the failure


def test_stale_temporary_files_are_removed_and_counted(tmp_path):
    path = tmp_path / "c.h5"
    (tmp_path / "c.h5.tmp-123-0").write_bytes(b"half")
    (tmp_path / "c.h5.tmp-456-3").write_bytes(b"half")
    (tmp_path / "other.tmp-1").write_bytes(b"keep")
    assert remove_stale_tmp(path) == 2
    assert sorted(os.listdir(tmp_path)) == ["other.tmp-1"]


def test_write_json_refuses_nan_unless_normalised(tmp_path):
    with pytest.raises(ValueError):
        write_json(tmp_path / "n.json", {"v": math.nan})
    write_json(tmp_path / "n.json", to_jsonable({"v": np.float32("nan"), "a": np.arange(2), "t": (1, 2)}))
    assert json.loads((tmp_path / "n.json").read_text()) == {"v": None, "a": [0, 1], "t": [1, 2]}


def test_to_jsonable_keeps_nan_when_asked_and_nan_from_none_inverts_it():
    doc = to_jsonable({"m": [np.float64(0.5), math.nan], "k": np.int64(3), "b": np.bool_(True)}, keep_nan=True)
    assert doc["k"] == 3 and type(doc["k"]) is int and doc["b"] is True and math.isnan(doc["m"][1])
    back = nan_from_none(to_jsonable({"m": [0.5, math.nan]}))
    assert back["m"][0] == 0.5 and math.isnan(back["m"][1])


def test_versions_name_each_distribution():
    v = versions("numpy", "no-such-distribution-xyz")
    assert v["numpy"] == np.__version__ and v["no-such-distribution-xyz"] is None and "python" in v
    assert "python" not in versions("numpy", python=False)


def test_option_check_quotes_the_value_and_the_choices():
    assert PRECISION.check("bf16") == "bf16"
    with pytest.raises(OptionError, match=r"^precision: unknown value 'bf61'; did you mean 'bf16'\? choose from: auto, fp32, bf16, fp16$"):
        PRECISION.check("bf61")
    with pytest.raises(OptionError, match=r"extraction.workers: expected an integer >= 0 or 'auto', got \"2\" \(a string\)"):
        WORKERS.check("2", "extraction.workers")
    with pytest.raises(OptionError, match="expected an integer >= 0, got -1"):
        WORKERS.check(-1)
    with pytest.raises(OptionError, match="expected true or false"):
        DRAFT.check("yes")
    assert WORKERS.check("auto") is None and WORKERS.shown_default == "auto" and WORKERS.doc == "integer >= 0 or 'auto'"


def test_option_flags_on_the_command_line():
    p = argparse.ArgumentParser()
    for o in (PRECISION, WORKERS, DRAFT):
        o.add_argument(p)
    assert vars(p.parse_args([])) == {"precision": "auto", "workers": None, "jpeg_draft": True}
    assert vars(p.parse_args(["--precision", "fp32", "--workers", "auto", "--no-jpeg-draft"])) == \
        {"precision": "fp32", "workers": None, "jpeg_draft": False}
    assert p.parse_args(["--workers", "3"]).workers == 3
    with pytest.raises(SystemExit):
        p.parse_args(["--workers", "-2"])

