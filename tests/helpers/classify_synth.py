"""Synthetic feature sets for featx.classify tests (fast, deterministic); imported by the tests."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_blobs

from featx.classify import FeatureSet


def blobs(n=120, d=20, k=3, seed=0, name="blobs", std=1.0, **kwargs) -> FeatureSet:
    """Well separated Gaussian blobs: every head should classify them almost perfectly."""
    X, y = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=std, random_state=seed)
    return FeatureSet(name, X, y, [f"c{i}" for i in range(k)], **kwargs)


def noise(n=60, d=30, k=2, seed=0, name="noise") -> FeatureSet:
    """Pure noise features with balanced random labels: nothing to learn."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % k
    rng.shuffle(y)
    return FeatureSet(name, rng.randn(n, d), y, [f"c{i}" for i in range(k)])
