"""Every damage to a sharded cache has a fix that works (issue 21): a truncated, deleted or
corrupted shard is found and recomputed by rerunning the same command, with or without
``--cluster``, every other shard left untouched, with one line naming the shard and no worker
traceback; ``featx info`` gives one state and one fix (exit 2); ``consolidate`` never writes into
its own shards; the cluster's bad input (a malformed scheduler file, ``--shard-size`` alone) is one
line; lock files go on a clean exit."""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from helpers.testdata import write_colour_dataset
from featx.extract import FileLock, build_backbone, extract, read_cache, save_checkpoint
from featx.extract._preprocess import Preprocessing

import distributed  # noqa: E402,F401 - a core dependency: imported, never skipped

BATCH = 8
DATASETS = ("paths", "labels", "groups", "splits", "sizes", "mtimes", "sha256", "failure", "done")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("damage")
    src = write_colour_dataset(base / "imgs", per_class=16, size=(24, 20))  # 48 images
    b = build_backbone("efficientnet_lite0", "none")
    model = str(base / "tiny.pt")
    save_checkpoint(model, b.module, arch={"source": b.spec.source, "arch": b.spec.arch},
                    preprocessing=Preprocessing(crop_size=32, resize_size=32).to_dict())
    args = ["--model", model, "--batch-size", str(BATCH), "--workers", "0", "--runtime", "openvino"]
    reference = str(base / "one.h5")
    extract(src, reference, model=model, batch_size=BATCH, workers=0, runtime="openvino", progress=False)
    return base, src, args, reference


def featx(*argv, timeout=300):
    return subprocess.run([sys.executable, "-m", "featx.pipelines", *argv], capture_output=True, text=True,
                          timeout=timeout)


def assert_same_rows(a_path, b_path):
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        for name in DATASETS + tuple(f"features/{k}" for k in a["features"]):
            assert np.array_equal(a[name][:], b[name][:]), name


def shard_mtimes(out):
    folder = out + ".shards"
    return {n: os.stat(os.path.join(folder, n)).st_mtime_ns for n in sorted(os.listdir(folder)) if n.endswith(".h5")}


def joined(setup, tmp_path, name="j.h5"):
    base, src, args, _ = setup
    out = str(tmp_path / name)
    run = featx("extract", src, "-o", out, *args, "--cluster", "local:2", "--shard-size", "16")
    assert run.returncode == 0, run.stderr
    return out


def damage(path, how):
    if how == "truncated":
        os.truncate(path, 3000)
    elif how == "deleted":
        os.unlink(path)
    else:  # corrupted: the middle of the file overwritten (its size unchanged)
        size = os.path.getsize(path)
        with open(path, "r+b") as fh:
            fh.seek(size // 3)
            fh.write(b"\xff" * (size // 3))


def assert_one_line_no_traceback(run):
    text = run.stdout + run.stderr
    assert "Traceback" not in text and "distributed.worker" not in text and "ERROR" not in text, text


@pytest.mark.parametrize("how,cluster", [("truncated", True), ("deleted", False), ("corrupted", True),
                                         ("truncated", False), ("corrupted", False)])
def test_a_damaged_shard_is_recomputed_by_the_same_command_others_untouched(setup, tmp_path, how, cluster):
    base, src, args, reference = setup
    out = joined(setup, tmp_path)
    before = shard_mtimes(out)
    damage(out + ".shards/00001.h5", how)
    rerun = featx("extract", src, "-o", out, *args, *(["--cluster", "local:2"] if cluster else []))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_one_line_no_traceback(rerun)
    if how != "deleted":
        lines = [ln for ln in rerun.stderr.splitlines() if "00001.h5" in ln]
        assert len(lines) == 1 and "damaged" in lines[0], rerun.stderr
    after = shard_mtimes(out)
    assert {k: v for k, v in after.items() if k != "00001.h5"} == {k: v for k, v in before.items() if k != "00001.h5"}
    assert len(read_cache(out)) == 48
    assert_same_rows(reference, out)
    again = featx("extract", src, "-o", out, *args)  # and the repaired cache is a finished job now
    assert again.returncode == 0 and shard_mtimes(out) == after, again.stderr


def test_info_on_a_deleted_shard_gives_one_state_one_fix_and_exit_2(setup, tmp_path):
    out = joined(setup, tmp_path)
    os.unlink(out + ".shards/00002.h5")
    info = featx("info", out)
    assert info.returncode == 2, info.stdout + info.stderr
    assert "complete" not in info.stdout.replace("INCOMPLETE", "").lower().replace("incomplete", "")
    assert "--overwrite" not in info.stdout and "UNREADABLE" not in info.stdout, info.stdout
    fixes = [ln for ln in info.stdout.splitlines() if "rerun" in ln]
    assert fixes and all("with or without --cluster" in ln for ln in fixes), info.stdout
    assert "00002.h5" in info.stdout and "DAMAGED" in info.stdout
    assert featx("info", out, "--json").returncode == 2


def test_a_failing_shard_task_is_one_line_naming_the_shard_never_a_worker_traceback(setup, tmp_path):
    base, src, args, _ = setup
    out = joined(setup, tmp_path)
    shard = out + ".shards/00000.h5"
    with h5py.File(shard, "r+", locking=False) as f:  # one row to redo: the task must open the shard for writing
        f["done"][0] = 0
    with FileLock(shard):  # ... which another process holds: the task fails there
        rerun = featx("extract", src, "-o", out, *args, "--cluster", "local:2")
    assert rerun.returncode == 2, rerun.stdout + rerun.stderr
    assert_one_line_no_traceback(rerun)
    errors = [ln for ln in rerun.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "00000.h5" in errors[0] and "rows 0-15" in errors[0], rerun.stderr
    assert "another featx process" in errors[0]


def test_consolidate_refuses_its_own_shards_and_speaks_of_shards_only_for_a_join(setup, tmp_path):
    base, src, args, reference = setup
    out = joined(setup, tmp_path)
    before = shard_mtimes(out)
    for target in (out + ".shards/00000.h5", out + ".shards", out + ".shards/plan.json", out + ".shards/new.h5"):
        run = featx("consolidate", out, "-o", target)
        assert run.returncode == 2 and run.stderr.startswith("error:") and len(run.stderr.strip().splitlines()) == 1, run
        assert "own shards" in run.stderr
    assert shard_mtimes(out) == before
    assert_same_rows(reference, out)  # still the join it was
    run = featx("consolidate", reference, "-o", str(tmp_path / "copy.h5"))
    assert run.returncode == 0 and "shard" not in run.stdout.replace("not joined from shards", ""), run.stdout
    run = featx("consolidate", reference)
    assert run.returncode == 0 and "nothing to do" in run.stdout and "deleted" not in run.stdout


def test_malformed_scheduler_files_and_a_lone_shard_size_are_one_line(setup, tmp_path):
    base, src, args, _ = setup
    out = str(tmp_path / "x.h5")
    for text in ("{}", "not json {", "[1, 2]"):
        sf = tmp_path / "sched.json"
        sf.write_text(text)
        run = featx("extract", src, "-o", out, *args, "--scheduler-file", str(sf))
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), run.stderr
        assert "scheduler file" in lines[0] and "dask scheduler --scheduler-file" in lines[0]
    run = featx("extract", src, "-o", out, *args, "--shard-size", "16")
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and "--cluster" in lines[0], run.stderr
    assert not os.path.exists(out)


def test_no_lock_file_is_left_after_a_clean_exit(setup, tmp_path):
    base, src, args, _ = setup
    out = joined(setup, tmp_path)
    plain = str(tmp_path / "plain.h5")
    assert featx("extract", src, "-o", plain, *args).returncode == 0
    left = [os.path.join(d, n) for d, _, names in os.walk(tmp_path) for n in names if n.endswith(".lock")]
    assert left == [], left
    assert os.path.exists(out)
