"""The rerun of a finished extraction job on unchanged images is answered from the cache without
importing torch (structural checks in a fresh interpreter, never timings); anything that changed
goes through the full path, which keeps every refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import pytest

from helpers.testdata import make_image
from featx.extract import CacheMismatchError, extract, open_source
from featx.extract.cache._rerun import KEY_ATTR, cpu_without_torch, finished_summary, request_key

FAST = dict(model="efficientnet_lite0", weights="none", progress=False, workers=0, batch_size=4, layers="blocks.1",
            device="cpu")
KEY_ARGS = dict(model=None, weights="default", layers=None, pool="avg", dtype="float16", tta="none", jpeg_draft=True,
                runtime="auto", precision="auto", device="auto")

_CHILD = """
import json, sys
from featx.extract import extract
s = extract(sys.argv[1], sys.argv[2], **json.loads(sys.argv[3]))
print(json.dumps({"record": s.as_record(), "heavy": sorted(m for m in ("torch", "openvino", "timm", "sklearn")
                                                            if m in sys.modules)}))
"""


def rerun_in_child(source: str, cache: str, **kwargs) -> dict:
    """extract() in a fresh interpreter: its summary and which heavy modules it imported."""
    args = json.dumps({**FAST, **kwargs})
    out = subprocess.run([sys.executable, "-c", _CHILD, source, cache, args], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def stored_key(cache: str) -> str | None:
    with h5py.File(cache, "r") as f:
        return f.attrs.get(KEY_ATTR)


@pytest.fixture
def finished(colour_dataset, tmp_path):
    cache = str(tmp_path / "c.h5")
    summary = extract(colour_dataset, cache, **FAST)
    assert summary.complete and summary.extracted == 18
    return colour_dataset, cache


def test_finished_job_on_unchanged_images_is_answered_without_torch(finished):
    source, cache = finished
    with h5py.File(cache, "r") as f:
        features = f["features"]["blocks.1"][:]
    child = rerun_in_child(source, cache)
    assert child["heavy"] == []
    record = child["record"]
    assert (record["rows"], record["extracted"], record["reused"], record["failed"], record["pending"]) == (18, 0, 18, 0, 0)
    assert record["complete"] and record["runtime"] == "openvino"
    with h5py.File(cache, "r") as f:  # nothing rewritten
        assert (f["features"]["blocks.1"][:] == features).all()


def answered_from_file(source: str, cache: str, **kwargs) -> bool:
    """Whether a rerun with ``kwargs`` would be answered from the finished cache (no build)."""
    args = {**FAST, **kwargs}
    key = request_key(**{k: args.get(k, d) for k, d in KEY_ARGS.items()})
    return finished_summary(cache, open_source(source), key) is not None


def test_touched_image_goes_through_the_full_path_and_is_answered_from_the_file_again_after(finished):
    source, cache = finished
    assert answered_from_file(source, cache)
    first = os.path.join(source, "red", "red_000.jpg")
    st = os.stat(first)
    os.utime(first, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert not answered_from_file(source, cache)
    summary = extract(source, cache, **FAST)  # the full path: same bytes (sha256), reused
    assert (summary.extracted, summary.reused) == (0, 18)
    assert answered_from_file(source, cache)  # the new sizes and times are recorded


def test_added_image_is_extracted(finished):
    source, cache = finished
    make_image((200, 0, 0), seed=99).save(os.path.join(source, "red", "red_new.png"))
    assert not answered_from_file(source, cache)
    summary = extract(source, cache, **FAST)
    assert (summary.extracted, summary.reused, summary.rows) == (1, 18, 19)


def test_changed_setting_is_refused_naming_the_key(finished):
    source, cache = finished
    assert not answered_from_file(source, cache, pool="max")
    with pytest.raises(CacheMismatchError, match=r"pooling: cache has avg, asked max"):
        extract(source, cache, **{**FAST, "pool": "max"})


def test_other_library_version_in_the_key_takes_the_full_path_and_records_the_current_key(finished):
    source, cache = finished
    current = stored_key(cache)
    assert current is not None
    key = json.loads(current)
    key["libraries"]["torch"] = "0.0.1"  # as if the cache had been made with another torch
    with h5py.File(cache, "r+") as f:
        f.attrs[KEY_ATTR] = json.dumps(key, sort_keys=True)
    assert not answered_from_file(source, cache)
    assert extract(source, cache, **FAST).reused == 18
    assert stored_key(cache) == current


def test_unfinished_cache_is_not_answered_from_the_file(finished):
    source, cache = finished
    with h5py.File(cache, "r+") as f:
        f["done"][3] = False
        f.attrs["complete"] = False
    assert not answered_from_file(source, cache)
    summary = extract(source, cache, **FAST)
    assert (summary.extracted, summary.reused) == (1, 17) and summary.complete


def test_overwrite_recomputes_every_row(finished):
    source, cache = finished
    assert extract(source, cache, **FAST, overwrite=True).extracted == 18


def test_request_key_follows_a_weights_file(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x" * 10)
    args = dict(model="resnet18", weights=str(weights), layers=None, pool="avg", dtype="float16", tta="none",
                jpeg_draft=True, runtime="auto", precision="auto", device="cpu")
    before = request_key(**args)
    assert before["weights_file"]["size"] == 10
    weights.write_bytes(b"y" * 11)
    assert request_key(**args) != before
    assert request_key(**{**args, "weights": "none"})["weights_file"] is None


def test_only_a_device_known_to_be_the_cpu_takes_the_fast_path():
    assert cpu_without_torch("cpu")
    assert not cpu_without_torch("cuda") and not cpu_without_torch("cuda:0") and not cpu_without_torch("mps")
