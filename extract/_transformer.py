"""A scikit-learn transformer over image paths that reads through the feature cache.

``FeatureExtractor`` can stand first in a ``Pipeline``: after ``fit`` (which builds the backbone;
``transform`` never fits), ``transform(paths)`` extracts (or reuses)
the features of those images in a cache file under ``cache_dir`` named by the model settings and
the list of paths, and returns them in the order given.
"""

from __future__ import annotations

import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from featx.common.files import write_csv
from featx.extract._errors import SourceError
from featx.extract.cache._reader import read_cache
from featx.extract.models._registry import DEFAULT_MODEL
from featx.common.jsonable import json_digest


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Image paths -> (n, D) float32 features of one layer of a pretrained backbone.

    Parameters mirror ``featx extract``; ``cache_dir`` holds the HDF5 caches (one per distinct
    list of paths and settings), so repeated calls on the same images do no model work.
    """

    def __init__(self, model=DEFAULT_MODEL, weights="default", layer="penultimate", pool="avg",
                 cache_dir="featx-cache", batch_size=64, workers=None, device="auto", precision="auto",
                 dtype="float32", tta="none", progress=False):
        # store every keyword argument as given, nothing else (scikit-learn's contract)
        self.model = model
        self.weights = weights
        self.layer = layer
        self.pool = pool
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.workers = workers
        self.device = device
        self.precision = precision
        self.dtype = dtype
        self.tta = tta
        self.progress = progress

    def fit(self, X=None, y=None):
        """Nothing to learn: the backbone is fixed. Builds it once and records the layer."""
        from featx.extract.models._backbones import build_backbone
        from featx.extract.models._resolve import resolve_layers

        self.backbone_ = build_backbone(self.model, self.weights)
        resolved = resolve_layers(self.backbone_, [self.layer], self.pool)
        self.layer_ = resolved.names[0]
        self.n_features_out_ = resolved.dims[self.layer_]
        return self

    def transform(self, X) -> np.ndarray:
        """The features of the images ``X`` (paths), in the order given; never fits: call
        ``fit`` (or ``fit_transform``) first, or a ``NotFittedError`` is raised."""
        from sklearn.utils.validation import check_is_fitted

        from featx.extract._engine import extract_local as extract

        check_is_fitted(self, "backbone_", msg="This FeatureExtractor is not fitted yet; call fit() or "
                        "fit_transform() before transform() (fit builds the backbone)")
        paths = [os.path.abspath(os.fspath(p)) for p in X]
        if not paths:
            raise SourceError("FeatureExtractor.transform got no image paths; pass a list of image files")
        os.makedirs(self.cache_dir, exist_ok=True)
        key = json_digest([self.backbone_.weights_sha256, self.layer_, self.pool, self.dtype, self.tta,
                           sorted(set(paths))])[:16]
        manifest = os.path.join(self.cache_dir, f"{key}.csv")
        if not os.path.exists(manifest):
            write_csv(manifest, [["path"], *([p] for p in sorted(set(paths)))])
        cache = os.path.join(self.cache_dir, f"{key}.h5")
        extract(manifest, cache, backbone=self.backbone_, layers=[self.layer_], pool=self.pool,
                batch_size=self.batch_size, workers=self.workers, device=self.device,
                precision=self.precision, dtype=self.dtype, tta=self.tta, progress=self.progress)
        data = read_cache(cache, [self.layer_])
        where = {p: i for i, p in enumerate(data.paths)}
        missing = [p for p in paths if p not in where]
        if missing:
            reasons = dict(data.failures)
            raise SourceError(f"{len(missing)} image(s) could not be read, e.g. {missing[0]!r} "
                              f"({reasons.get(missing[0], 'failed')}); remove them from the input")
        return data.features[self.layer_][[where[p] for p in paths]]

    def get_feature_names_out(self, input_features=None):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_features_out_")
        n = self.n_features_out_
        return np.array([f"{self.layer_}_{i}" for i in range(n)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
