"""A cache cut at random byte offsets or with flipped bytes gives a clear 'damaged' error (never
a raw h5py traceback), and ``featx info`` reports what is still readable."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from helpers.testdata import write_colour_dataset
from featx.extract import CacheDamagedError, CacheError, cache_info, extract, read_cache


ROWS = 12  # 3 classes x 4 images
INFO_PARTS = ("spec", "created", "featx_version", "library_versions", "source", "complete", "class_names", "layers", "counts")


@pytest.fixture(scope="module")
def good_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("dmg")
    src = write_colour_dataset(root / "imgs", per_class=4)
    out = str(root / "good.h5")
    extract(src, out, weights="none", workers=0, progress=False, layers="blocks.2,penultimate")
    return out


def _damaged_copies(good, tmp_path, n=8, seed=0):
    rng = np.random.default_rng(seed)
    size = os.path.getsize(good)
    data = open(good, "rb").read()
    for i in range(n):
        cut = int(rng.integers(0, size))
        path = tmp_path / f"cut{i}.h5"
        path.write_bytes(data[:cut])
        yield "cut", str(path)
    for i in range(n):
        flipped = bytearray(data)
        for pos in rng.integers(0, min(size, 4096), size=8):  # metadata lives near the start
            flipped[pos] ^= 0xFF
        path = tmp_path / f"flip{i}.h5"
        path.write_bytes(bytes(flipped))
        yield "flip", str(path)


def _one_of_the_cache_errors(exc, path, *, incomplete_too=True):
    """The exception is one of the reader's own one-line messages for this path, word for word."""
    p = re.escape(repr(path))
    damaged_open = (rf"cache {p} is damaged or not an HDF5 file \([^\n]+\); delete it or rerun 'featx extract' "
                    r"with --overwrite to rebuild it")
    damaged = rf"cache {p} is damaged \([^\n]+\); rerun 'featx extract' with --overwrite to rebuild it"
    not_ours = rf"{p} is an HDF5 file but not a featx cache; choose another output path"
    incomplete = rf"cache {p} is incomplete \(\d+ of {ROWS} rows done\); rerun the same 'featx extract' command to finish it"
    forms = [damaged_open, damaged, not_ours] + ([incomplete] if incomplete_too else [])
    damaged_kind = [isinstance(exc, CacheDamagedError)] * 2 + [type(exc) is CacheError] * (len(forms) - 2)
    return any(re.fullmatch(f, str(exc)) and ok for f, ok in zip(forms, damaged_kind))


def test_damaged_caches_fail_clearly(good_cache, tmp_path):
    outcomes = {"error": 0, "cut_error": 0, "readable": 0, "info": 0}
    for kind, path in _damaged_copies(good_cache, tmp_path):
        try:
            data = read_cache(path)
        except CacheError as exc:  # CacheDamagedError, or a plain CacheError: 'not a featx cache' / 'incomplete'
            assert _one_of_the_cache_errors(exc, path), str(exc)
            if kind == "cut":  # a cut file never opens: HDF5 sees the end of file before the stored end
                assert isinstance(exc, CacheDamagedError) and "(truncated file: eof = " in str(exc), str(exc)
                outcomes["cut_error"] += 1
            outcomes["error"] += 1
        else:  # a flip in unused bytes: the data must still be what was written
            ref = read_cache(good_cache)
            for layer in ref.features:
                np.testing.assert_array_equal(data.features[layer], ref.features[layer])
            outcomes["readable"] += 1
        try:
            info = cache_info(path)
        except CacheError as exc:  # cache_info never calls an unfinished cache an error: it reports it
            assert _one_of_the_cache_errors(exc, path, incomplete_too=False), str(exc)
        else:  # it opened: each unreadable part is named on one line, and 'readable' says whether any is
            assert info["readable"] is (not info["problems"]), info
            assert all("\n" not in p and p.split(":", 1)[0] in INFO_PARTS for p in info["problems"]), info["problems"]
            if info["readable"]:
                assert info["counts"]["rows"] == ROWS and info["spec"]["layers"] == ["blocks.2", "global_pool"]
            outcomes["info"] += 1
    assert outcomes["cut_error"] == 8  # every one of the 8 cuts is detected
    # the 8 flips land on random metadata bytes: some may hit bytes nothing reads, so only their sum is exact
    assert outcomes["error"] + outcomes["readable"] == 16 and outcomes["error"] >= 8, outcomes


def test_info_cli_on_damaged_cache_is_one_line(good_cache, tmp_path):
    path = tmp_path / "cut.h5"
    data = open(good_cache, "rb").read()
    path.write_bytes(data[: len(data) // 2])
    r = subprocess.run([sys.executable, "-m", "featx.pipelines", "info", str(path)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert re.match(rf"error: cache '{re.escape(str(path))}' is damaged or not an HDF5 file \(.*truncated file.*\); "
                    r"delete it or rerun 'featx extract' with --overwrite to rebuild it$", lines[0]), lines[0]
