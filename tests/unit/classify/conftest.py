"""Fixtures for featx.classify tests."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.classify_synth import blobs
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits

from featx.classify import FeatureSet


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    """Tiny matrices: multithreaded BLAS only spin-waits (and xdist already uses the cores)."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def blobs_fs() -> FeatureSet:
    return blobs()


@pytest.fixture
def hard_fs() -> FeatureSet:
    """Learnable but not trivial (balanced accuracy around 0.8), binary, with keys and meta."""
    X, y = make_classification(n_samples=120, n_features=30, n_informative=5, class_sep=0.8, random_state=1)
    keys = np.array([f"sha-{i:04d}" for i in range(len(y))])
    meta = {"model": "efficientnet_lite0", "weights_sha256": "ab" * 32, "layer": "blocks.6", "pooling": "avg",
            "preprocessing": {"size": 224, "mean": [0.485, 0.456, 0.406]}}
    return FeatureSet("hard", X, y, ["ant", "bee"], keys=keys, meta=meta)
