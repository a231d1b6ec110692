"""What the cluster tests share: a real model that runs fast, and the bitwise comparison of two caches."""

from __future__ import annotations

import numpy as np

from featx.extract import build_backbone, read_cache, save_checkpoint
from featx.extract._preprocess import Preprocessing


def tiny_checkpoint(path) -> str:
    """efficientnet_lite0, seeded random weights, at 32x32 input: a real model that runs fast."""
    b = build_backbone("efficientnet_lite0", "none")
    save_checkpoint(str(path), b.module, arch={"source": b.spec.source, "arch": b.spec.arch},
                    preprocessing=Preprocessing(crop_size=32, resize_size=32).to_dict())
    return str(path)


def assert_equal_caches(a_path, b_path):
    """The two caches hold the same rows, hashes, failures and features, bit for bit."""
    a, b = read_cache(a_path), read_cache(b_path)
    assert a.paths == b.paths and np.array_equal(a.labels, b.labels) and list(a.hashes) == list(b.hashes)
    assert a.failures == b.failures
    for layer in a.features:
        np.testing.assert_array_equal(a.features[layer], b.features[layer])
