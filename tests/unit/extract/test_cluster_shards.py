"""Shard planning (no cluster, no model): batch-aligned, deterministic ranges of the source
table, boundaries kept as paths so an added image falls into one existing shard."""

from __future__ import annotations

import pytest

from featx.common.options import OptionError
from featx.extract import SHARD_SIZE
from featx.extract.cluster._shards import default_shard_size, plan_shards, read_plan, round_to_batches, write_plan

SETTINGS = {"model": "m", "weights": "none"}


def paths(n, prefix="img"):
    return [f"{prefix}/{i:05d}.png" for i in range(n)]


def ranges(plan):
    return [(s.start, s.stop) for s in plan.shards]


def test_shards_are_whole_batches_and_cover_every_row_once():
    plan = plan_shards(paths(1000), "d", batch_size=64, settings=SETTINGS, shard_size=100)
    assert plan.shard_size == 128  # rounded up to whole batches
    assert ranges(plan) == [(a, min(1000, a + 128)) for a in range(0, 1000, 128)]
    assert all(s.start % 64 == 0 for s in plan.shards)
    assert [s.file for s in plan.shards] == [f"{i:05d}.h5" for i in range(len(plan.shards))]
    again = plan_shards(paths(1000), "d", batch_size=64, settings=SETTINGS, shard_size=100)
    assert again.as_record() == plan.as_record()  # deterministic


def test_default_size_spreads_a_small_source_and_caps_a_large_one():
    assert default_shard_size(300, 8) == 16  # ceil(300 / 32) = 10 -> two batches of 8
    assert default_shard_size(10_000_000, 64) == round_to_batches(10_000, 64) == 10_048
    assert default_shard_size(5, 64) == 64


def test_an_added_path_falls_into_one_shard_and_the_others_keep_their_rows(tmp_path):
    out = str(tmp_path / "out.h5")
    old = paths(100)
    plan = plan_shards(old, "d1", batch_size=10, settings=SETTINGS, shard_size=20)
    write_plan(out, plan)
    new = sorted(old + ["img/00045b.png"])  # between 00045 and 00046: the shard of rows 40-59
    replanned = plan_shards(new, "d2", batch_size=10, settings=SETTINGS, previous=read_plan(out))
    assert replanned.shard_size == 20  # the recorded size, not a new default
    sizes = {s.file: [new[i] for i in range(s.start, s.stop)] for s in replanned.shards}
    before = {s.file: [old[i] for i in range(s.start, s.stop)] for s in plan.shards}
    changed = [f for f in sizes if sizes[f] != before[f]]
    assert changed == ["00002.h5"] and "img/00045b.png" in sizes["00002.h5"]


def test_a_removed_shard_disappears_and_other_settings_plan_afresh(tmp_path):
    old = paths(60)
    plan = plan_shards(old, "d", batch_size=10, settings=SETTINGS, shard_size=20)
    fewer = old[:20] + old[40:]  # every row of the middle shard deleted
    replanned = plan_shards(fewer, "d", batch_size=10, settings=SETTINGS, previous=plan.as_record())
    assert [s.file for s in replanned.shards] == ["00000.h5", "00002.h5"] and ranges(replanned) == [(0, 20), (20, 40)]
    other = plan_shards(old, "d", batch_size=10, settings={**SETTINGS, "pool": "max"}, previous=plan.as_record())
    assert other.settings["pool"] == "max" and ranges(other) == ranges(plan)


def test_an_unsorted_table_keeps_its_plan_only_while_the_boundaries_stay_in_order():
    table = list(reversed(paths(40)))
    plan = plan_shards(table, "d", batch_size=10, settings=SETTINGS, shard_size=10)
    assert not plan.sorted_paths
    kept = plan_shards(table + ["zzz.png"], "d", batch_size=10, settings=SETTINGS, previous=plan.as_record())
    assert ranges(kept) == [(0, 10), (10, 20), (20, 30), (30, 41)]
    shuffled = table[20:30] + table[:20] + table[30:]  # a boundary before the one that came first
    fresh = plan_shards(shuffled, "d", batch_size=10, settings=SETTINGS, previous=plan.as_record())
    assert [s.first for s in fresh.shards] == [shuffled[0], shuffled[10], shuffled[20], shuffled[30]]


def test_unreadable_plan_reads_as_none_and_bad_sizes_are_refused(tmp_path):
    out = str(tmp_path / "x.h5")
    assert read_plan(out) is None
    (tmp_path / "x.h5.shards").mkdir()
    (tmp_path / "x.h5.shards" / "plan.json").write_text("{not json")
    assert read_plan(out) is None
    with pytest.raises(OptionError):
        SHARD_SIZE.check(0)
