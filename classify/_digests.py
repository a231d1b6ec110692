"""Content digests of what a result is computed on: a FeatureSet's values and labels, and a set
of folds. Equal digests mean equal inputs, so a store of results can be keyed by them."""

from __future__ import annotations

import hashlib
import json

import numpy as np


def features_digest(fs, *, groups: bool = True) -> str:
    """The sha256 of a FeatureSet's values (as float32), labels, groups (unless ``groups=False``)
    and class names."""
    h = hashlib.sha256()
    X = np.ascontiguousarray(fs.X, dtype=np.float32)
    h.update(repr(X.shape).encode())
    h.update(X.tobytes())
    h.update(np.ascontiguousarray(fs.y, dtype=np.int64).tobytes())
    if groups and fs.groups is not None:
        h.update(json.dumps([str(g) for g in fs.groups]).encode())
    h.update(json.dumps(list(fs.class_names)).encode())
    return h.hexdigest()


def splits_digest(splits) -> str:
    """The sha256 of ``(train, test)`` index pairs, in order."""
    h = hashlib.sha256()
    for train, test in splits:
        h.update(np.asarray(train, dtype=np.int64).tobytes())
        h.update(b"|")
        h.update(np.asarray(test, dtype=np.int64).tobytes())
        h.update(b"#")
    return h.hexdigest()
