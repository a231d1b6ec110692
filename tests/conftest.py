"""Shared fixtures: tiny real images, odd images, and real cached features of
../shared/data/hymenoptera (extracted once per test session). The plain helpers live in
``helpers.testdata`` (tests/helpers/, a package: tests/ is on sys.path as this file's folder)."""

from __future__ import annotations

import fcntl
import os

import pytest

from helpers.testdata import shared_dataset, write_colour_dataset, write_odd_images


@pytest.fixture(scope="session", autouse=True)
def openvino_model_cache(tmp_path_factory):
    """Converted OpenVINO models go to one folder per test session (shared by xdist workers and
    the subprocesses tests start), not to the user's ~/.cache."""
    if "FEATX_CACHE_DIR" not in os.environ:
        os.environ["FEATX_CACHE_DIR"] = str(tmp_path_factory.getbasetemp().parent / "featx-cache")


@pytest.fixture(scope="session")
def shared_data():
    """``shared_data("hymenoptera")``: the path of a data set in ../shared/data (beside the repo).
    The one way tests reach shared data: skips when it is absent, fails instead when
    FEATX_REQUIRE_SHARED is set (CI)."""
    return shared_dataset


@pytest.fixture
def colour_dataset(tmp_path) -> str:
    return write_colour_dataset(tmp_path / "colours")


@pytest.fixture
def odd_images(tmp_path):
    root = tmp_path / "odd"
    return str(root), write_odd_images(root)


@pytest.fixture(scope="session")
def hymenoptera_cache(tmp_path_factory) -> str:
    """Default-model features of all of ../shared/data/hymenoptera, extracted once and shared by
    every test process (xdist workers wait on a lock and then reuse the finished cache)."""
    from featx.extract import extract

    root = shared_dataset("hymenoptera")
    base = tmp_path_factory.getbasetemp().parent
    cache = os.path.join(base, "hymenoptera.h5")
    with open(os.path.join(base, "hymenoptera.wait"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        extract(root, cache, progress=False)
        fcntl.flock(fh, fcntl.LOCK_UN)
    return cache
