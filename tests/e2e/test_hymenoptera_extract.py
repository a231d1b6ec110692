"""The real dataset: ../shared/data/hymenoptera through the default offline backbone."""

import numpy as np

from featx.extract import read_cache


def test_hymenoptera_extracts_398_rows_two_classes(hymenoptera_cache):
    data = read_cache(hymenoptera_cache)
    assert len(data) == 398 and not data.failures
    assert data.class_names == ["ants", "bees"]
    assert data.features["global_pool"].shape == (398, 1280)
    assert data.complete
    assert sorted(set(data.splits)) == ["train", "val"]
    assert sum(p.endswith(".gif") for p in data.paths) == 1
    assert np.isfinite(data.features["global_pool"]).all()
