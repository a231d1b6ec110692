"""featx similar: exact self-match first, the three kinds of query, --json, errors as one line,
the index cached beside the cache; recall@10 against brute force on a 100k-row synthetic cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from featx.extract import CacheData
from featx.pipelines.commands._similar import load_index, similar


def featx(*args):
    return subprocess.run([sys.executable, "-m", "featx.pipelines", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture()
def cache(hymenoptera_cache, tmp_path):
    path = tmp_path / "h.h5"  # a copy: the index file is written beside it
    shutil.copy(hymenoptera_cache, path)
    return str(path)


def test_row_and_path_queries_come_first_at_cosine_one(cache, tmp_path):
    from featx.extract import read_cache

    data = read_cache(cache)
    layer = list(data.features)[-1]
    out = similar(cache, ["0", data.paths[7]], k=5)
    assert [r["query"] for r in out] == [data.paths[0], data.paths[7]]
    for r, row in zip(out, (0, 7)):
        assert r["neighbours"][0] == {"path": data.paths[row], "cosine": 1.0}
        assert len(r["neighbours"]) == 5
        cos = [n["cosine"] for n in r["neighbours"]]
        assert cos == sorted(cos, reverse=True)
    # the same ranking as brute force
    X = data.features[layer] / np.linalg.norm(data.features[layer], axis=1, keepdims=True)
    brute = np.argsort(-(X @ X[7]))[:5]
    assert [n["path"] for n in out[1]["neighbours"]] == [data.paths[i] for i in brute]
    saved = [f for f in os.listdir(tmp_path) if ".similar-" in f]
    assert len(saved) == 1 and saved[0].endswith(".npz")
    before = os.stat(tmp_path / saved[0]).st_mtime_ns
    similar(cache, [3], k=2)
    assert os.stat(tmp_path / saved[0]).st_mtime_ns == before  # loaded, not rebuilt


def test_json_and_image_not_in_cache(cache, tmp_path):
    from featx.extract import cache_info, read_cache

    data = read_cache(cache)
    root = cache_info(cache)["source"]["root"]
    outside = tmp_path / "query.jpg"  # a copy of row 11's image under another name: extracted anew
    shutil.copy(os.path.join(root, data.paths[11]), outside)
    done = featx("similar", cache, str(outside), "2", "-k", "3", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [r["query"] for r in out] == [str(outside), data.paths[2]]
    assert out[0]["neighbours"][0]["path"] == data.paths[11] and out[0]["neighbours"][0]["cosine"] > 0.99
    assert set(out[1]["neighbours"][0]) == {"path", "cosine"} and len(out[1]["neighbours"]) == 3


@pytest.mark.parametrize("args, words", [
    (["999999"], "row 999999 is not in the cache"),
    (["no/such.jpg"], "neither a row index, a path in the cache, nor an image file"),
    (["0", "-k", "0"], "-k must be a positive integer"),
])
def test_bad_queries_are_one_line_errors(cache, args, words):
    done = featx("similar", cache, *args)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_cache_is_one_line(tmp_path):
    done = featx("similar", str(tmp_path / "none.h5"), "0")
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "does not exist" in done.stderr


def test_recall_at_10_against_brute_force_on_100k_rows(tmp_path):
    rng = np.random.default_rng(0)
    n, d, centres = 100_000, 64, 200
    X = (rng.normal(size=(centres, d))[rng.integers(0, centres, n)] + 0.6 * rng.normal(size=(n, d))).astype(np.float32)
    paths = [f"img/{i:06d}.jpg" for i in range(n)]
    data = CacheData(path=str(tmp_path / "synthetic.h5"), features={"f": X}, labels=np.zeros(n, np.int64),
                     class_names=["a"], paths=paths, groups=None, splits=[""] * n,
                     hashes=np.array([f"{i:064x}".encode() for i in range(n)], dtype="S64"), rows=np.arange(n),
                     meta={"model": "synthetic"})
    index = load_index(data.path, data, "f")
    assert index.kind_.startswith("ivf")  # the approximate index, not brute force
    queries = rng.choice(n, 300, replace=False)
    cos, ids = index.search(X[queries], 10)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    truth = np.argsort(-(U[queries] @ U.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)])
    assert recall >= 0.99, recall
    assert (ids[:, 0] == queries).all() and np.allclose(cos[:, 0], 1.0, atol=1e-5)
    # the saved index answers the same, and a changed cache gets a new one
    again = load_index(data.path, data, "f")
    assert np.array_equal(again.search(X[queries[:20]], 10)[1], ids[:20])
    data.hashes[0] = b"f" * 64
    load_index(data.path, data, "f")
    assert len([f for f in os.listdir(tmp_path) if ".similar-f-" in f]) == 1
