"""featx.common.settings (settings classes and table checks), remove_stale_tmp_in, Stages, and
CacheData.describe."""

from __future__ import annotations

import dataclasses
import time
import tomllib
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from featx.common import Option, remove_stale_tmp
from featx.common.files import remove_stale_tmp_in, write_text
from featx.common.option_lists import ListOption
from featx.common.settings import (Problems, Table, check_array, check_names, check_table, plain_data, safe_name,
                                   settings_class, settings_data, to_toml)
from featx.common.stages import Stages

SIZE = Option("size", 8, "size", kind=int, minimum=1)
WORKERS = Option("workers", None, "workers", kind=int, minimum=0, none_word="auto")
NAME = Option("name", None, "a name")
TAGS = ListOption("tags", ("a",), "tags")
SUB = Table("sub", {}, "a sub-table")
OPTIONS = MappingProxyType({o.name: o for o in (SIZE, WORKERS, NAME, TAGS, SUB)})


class _Methods:
    def doubled(self) -> int:
        return 2 * self.size


def test_settings_class_is_frozen_with_the_options_defaults_and_fields_in_order():
    cls = settings_class("Box", OPTIONS.values(), "A box.", base=_Methods, module=__name__)
    box = cls()
    assert [f.name for f in dataclasses.fields(cls)] == ["size", "workers", "name", "tags", "sub"]
    assert (box.size, box.workers, box.name, box.tags, dict(box.sub)) == (8, None, None, ("a",), {})
    assert cls(size=3).doubled() == 6 and cls.__doc__ == "A box." and cls.__module__ == __name__
    assert cls.OPTIONS["size"] is SIZE
    assert cls(size=2).as_dict() == {"size": 2, "workers": None, "name": None, "tags": ("a",), "sub": box.sub}
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.size = 2
    with pytest.raises(TypeError):
        box.sub["x"] = 1  # a mapping default is read-only, one per instance
    assert cls().sub is not box.sub
    assert {f.name: f.type for f in dataclasses.fields(cls)}["size"] is Any
    typed = settings_class("Typed", (SIZE, WORKERS), "typed", typed=True)
    assert {f.name: f.type for f in dataclasses.fields(typed)} == {"size": int, "workers": int | None}


def test_check_table_collects_every_problem_and_leaves_sub_tables_alone():
    values, problems = check_table({"size": 0, "sise": 2, "workers": "auto", "sub": {"anything": 1}}, OPTIONS, "box",
                                   required=("name",))
    assert values == {"size": 8, "workers": None, "name": None, "tags": ("a",)}  # refused -> default; no 'sub'
    assert problems == [
        "box.sise: unknown key; did you mean 'size'? keys of [box]: size, workers, name, tags, sub",
        "box.size: expected an integer >= 1, got 0",
        "box.name: missing (required)",
    ]
    assert check_table({"zzz": 1}, OPTIONS)[1] == ["zzz: unknown key; keys of the top level: size, workers, name, tags, sub"]
    values, problems = check_table([1], OPTIONS, "box")
    assert values["size"] == 8 and problems == ["box: expected a table, got [1] (an array)"]
    assert check_table(3, OPTIONS)[1] == ["expected a table, got 3 (an integer)"]
    assert check_table({"size": 4, "tags": ["x", "y"]}, OPTIONS) == ({"size": 4, "workers": None, "name": None,
                                                                       "tags": ("x", "y")}, [])


def test_check_array_accepts_one_table_and_names_each_entry():
    entries, problems = check_array({"box": [{"size": 2}, {"size": -1}]}, "box", OPTIONS)
    assert [(i, v["size"]) for i, v in entries] == [(0, 2), (1, 8)]
    assert problems == ["box[1].size: expected an integer >= 1, got -1"]
    assert check_array({"box": {"size": 3}}, "box", OPTIONS)[0][0][1]["size"] == 3
    assert check_array({}, "box", OPTIONS) == ([], [])
    assert check_array({}, "box", OPTIONS, required=True)[1] == ["box: missing (required); add at least one [[box]] table"]
    assert check_array({"box": []}, "box", OPTIONS)[1] == ["box: is empty; add at least one [[box]] table"]
    assert check_array({"box": 3}, "box", OPTIONS)[1] == ["box: expected an array of tables ([[box]]), got 3 (an integer)"]
    assert check_array({"box": [{}]}, "box", OPTIONS, required_keys=("name",))[1] == ["box[0].name: missing (required)"]


def test_settings_data_and_toml_read_back_to_the_same_values():
    inner = settings_class("Inner", (SIZE, WORKERS, NAME), "inner")
    outer_opts = {o.name: o for o in (Table("inner", None, "x"), Table("many", None, "x"), TAGS, SUB)}
    outer = settings_class("Outer", outer_opts.values(), "outer")
    obj = outer(inner=inner(size=2), many=(inner(), inner(name="n")), tags=("x",), sub=MappingProxyType({"k": (1, 2)}))
    data = settings_data(obj)
    assert data == {"inner": {"size": 2, "workers": "auto"}, "many": [{"size": 8, "workers": "auto"},
                    {"size": 8, "workers": "auto", "name": "n"}], "tags": ["x"], "sub": {"k": [1, 2]}}
    assert tomllib.loads(to_toml(data)) == data
    assert tomllib.loads(to_toml({"a": None, "b": [{"c": None, "d": 1}]})) == {"b": [{"d": 1}]}
    assert plain_data(MappingProxyType({"a": (1, {"b": (2,)})})) == {"a": [1, {"b": [2]}]}


def test_names_are_made_usable_and_checked_distinct():
    assert safe_name("torchvision:resnet 50!") == "torchvision_resnet_50" and safe_name("...") == ""
    assert len(safe_name("x" * 100)) == 64
    assert check_names([(0, "a"), (1, "b.c"), (2, "a"), (3, "-bad")], "sources") == [
        "sources[2].name: 'a' is already the name of sources[0]; give every entry a distinct name",
        "sources[3].name: '-bad' is not a usable name; use letters, digits and . _ + - (at most 64)",
    ]


def test_problems_prefix_where():
    p = Problems()
    p.add("cv.folds", "too few")
    p.add("", "whole spec")
    assert p.items == ["cv.folds: too few", "whole spec"]


def test_remove_stale_tmp_in_clears_one_folder_only(tmp_path):
    write_text(tmp_path / "keep.json", "{}")
    for name in ("a.json.tmp-1-0", "b.html.tmp-2-3"):
        (tmp_path / name).write_text("partial")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.tmp-1-1").write_text("partial")
    assert remove_stale_tmp_in(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json", "sub"]
    assert (tmp_path / "sub" / "c.tmp-1-1").exists() and remove_stale_tmp_in(tmp_path / "missing") == 0
    (tmp_path / "x[1].tmp-9-9").write_text("partial")  # glob characters in names are literal
    assert remove_stale_tmp(tmp_path / "x[1]") == 1


def test_stages_add_up_seconds_and_announce_only_when_asked(capsys):
    t0 = time.perf_counter()
    stages = Stages(progress=True)
    for _ in range(2):
        with stages.run("load", "reading"):
            pass
    with pytest.raises(RuntimeError), stages.run("cv", "fitting"):
        raise RuntimeError("boom")
    assert set(stages.timings) == {"load", "cv"} and all(t > 0 for t in stages.timings.values())
    assert sum(stages.timings.values()) <= stages.total() <= time.perf_counter() - t0  # total: wall time since creation
    assert capsys.readouterr().err == "[load] reading\n[load] reading\n[cv] fitting\n"
    t1 = time.perf_counter()
    quiet = Stages(progress=False)
    quiet.say("nothing")
    assert capsys.readouterr().err == "" and quiet.timings == {}
    assert 0 < quiet.total() <= time.perf_counter() - t1


def test_cache_data_describe_counts_the_given_labels():
    from featx.extract import CacheData

    data = CacheData(path="c.h5", features={"l": np.zeros((4, 2), np.float32)}, labels=np.array([0, 1, 1, -1]),
                     class_names=["a", "b"], paths=["p0", "p1", "p2", "p3"], groups=np.array(["g", "g", "h", ""]),
                     splits=[""] * 4, hashes=np.zeros(4), rows=np.arange(4), meta={"cache_rows": 5},
                     failures=[("p4", "truncated")])
    assert data.describe() == {"rows": 5, "used_rows": 4, "classes": ["a", "b"], "counts": {"a": 1, "b": 2},
                               "failures": [["p4", "truncated"]], "groups": 3}
    d = data.describe(np.array([1, 1]))
    assert (d["used_rows"], d["counts"]) == (2, {"a": 0, "b": 2})
    no_groups = dataclasses.replace(data, groups=None, meta={})
    assert (no_groups.describe()["groups"], no_groups.describe()["rows"]) == (0, 4)
