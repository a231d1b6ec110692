import glob
import os

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from featx.extract import FeatureExtractor, extract, read_cache


def test_transformer_in_a_pipeline_reads_through_the_cache(colour_dataset, tmp_path):
    paths = sorted(glob.glob(os.path.join(colour_dataset, "*", "*")))
    labels = [os.path.basename(os.path.dirname(p)) for p in paths]
    cache_dir = str(tmp_path / "fc")
    fx = FeatureExtractor(weights="none", cache_dir=cache_dir, workers=0)
    pipe = make_pipeline(fx, LogisticRegression(max_iter=1000))
    pipe.fit(paths, labels)
    assert pipe.score(paths, labels) == 1.0
    caches = glob.glob(os.path.join(cache_dir, "*.h5"))
    assert len(caches) == 1
    mtime = os.path.getmtime(caches[0])
    # a second transform of the same paths (in another order) reuses the cache, in input order
    X1 = fx.transform(paths)
    X2 = fx.transform(paths[::-1])
    np.testing.assert_array_equal(X1[::-1], X2)
    assert os.path.getmtime(caches[0]) == mtime
    # the features are the extractor's own
    ref = extract(colour_dataset, str(tmp_path / "ref.h5"), weights="none", dtype="float32", progress=False, workers=0)
    data = read_cache(ref.path)
    order = [data.paths.index(os.path.relpath(p, colour_dataset)) for p in paths]
    np.testing.assert_allclose(X1, data.features["global_pool"][order], rtol=1e-5, atol=1e-5)
    assert fx.get_feature_names_out().shape == (1280,)
