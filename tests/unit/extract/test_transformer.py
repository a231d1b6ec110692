import glob
import os

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks as checks

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


def test_transform_never_fits_an_unfitted_extractor(colour_dataset, tmp_path):
    from sklearn.exceptions import NotFittedError

    paths = sorted(glob.glob(os.path.join(colour_dataset, "*", "*")))
    fx = FeatureExtractor(weights="none", cache_dir=str(tmp_path / "fc"), workers=0)
    with pytest.raises(NotFittedError, match=r"^This FeatureExtractor is not fitted yet; call fit\(\) or fit_transform\(\)"):
        fx.transform(paths)
    with pytest.raises(NotFittedError):
        fx.get_feature_names_out()
    assert not hasattr(fx, "backbone_") and not os.path.exists(tmp_path / "fc")  # nothing built, nothing written
    X = fx.fit_transform(paths)
    backbone = fx.backbone_
    assert X.shape == (len(paths), 1280) and fx.n_features_out_ == 1280
    np.testing.assert_array_equal(fx.transform(paths), X)
    assert fx.backbone_ is backbone  # transform used the fitted backbone, did not refit


@pytest.mark.parametrize("check", [checks.check_no_attributes_set_in_init, checks.check_parameters_default_constructible,
                                   checks.check_get_params_invariance, checks.check_set_params],
                         ids=lambda c: c.__name__)
def test_scikit_learn_api_checks_that_apply_to_an_image_path_transformer(check):
    check("FeatureExtractor", FeatureExtractor(weights="none", workers=0))


def test_init_stores_every_parameter_and_clone_keeps_them():
    fx = FeatureExtractor(model="resnet18", layer="blocks.1", pool="max", batch_size=8, tta="flip")
    assert vars(fx) == fx.get_params() and clone(fx).get_params() == fx.get_params()
