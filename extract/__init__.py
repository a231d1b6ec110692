"""featx.extract: pretrained backbones, layer taps and the resumable HDF5 feature cache.

Typical use::

    from featx.extract import extract, read_cache
    extract("photos/", "photos.h5")                 # efficientnet_lite0, penultimate layer
    data = read_cache("photos.h5")
    X, y = data.features[data.meta["layers"][0]], data.labels
"""

from featx.extract._backbones import Backbone, build_architecture, build_backbone
from featx.extract._checkpoint import read_checkpoint, save_checkpoint
from featx.extract._compute import DEVICE, PRECISION, TTA, FeatureComputer, resolve_device, resolve_precision
from featx.extract._engine import BATCH_SIZE, DTYPE, EXTRACTION_OPTIONS, ExtractionSummary, extract
from featx.extract._errors import (
    CacheDamagedError,
    CacheError,
    CacheLockedError,
    CacheMismatchError,
    CacheWriteError,
    CheckpointError,
    ExtractError,
    ExtractionFailedError,
    SourceError,
    UnknownLayerError,
    UnknownModelError,
    WeightsError,
    WeightsNotFoundError,
    WorkerDiedError,
)
from featx.extract._images import DEFAULT_MAX_PIXELS, decode_rgb
from featx.extract._layers import PENULTIMATE, LayerInfo, LayerTap, list_layers, penultimate_layer
from featx.extract._loading import JPEG_DRAFT, MAX_PIXELS, WORKERS
from featx.extract._lock import FileLock
from featx.extract._pooling import POOL, POOLS, pool
from featx.extract._preprocess import Preprocessing
from featx.extract._reader import CacheData, cache_info, read_cache
from featx.extract._registry import BUILTIN, DEFAULT_MODEL, ModelSpec, resolve_spec
from featx.extract._resolve import LayerResolution, resolve_layers
from featx.extract._sources import IMAGE_EXTENSIONS, SourceTable, open_source

__all__ = [
    "BATCH_SIZE", "DEVICE", "DTYPE", "EXTRACTION_OPTIONS", "JPEG_DRAFT", "MAX_PIXELS", "POOL", "PRECISION", "TTA",
    "WORKERS",
    "BUILTIN", "DEFAULT_MAX_PIXELS", "DEFAULT_MODEL", "IMAGE_EXTENSIONS", "PENULTIMATE", "POOLS",
    "Backbone", "CacheData", "CacheDamagedError", "CacheError", "CacheLockedError", "CacheMismatchError", "CacheWriteError",
    "CheckpointError", "ExtractError", "ExtractionFailedError", "ExtractionSummary", "FeatureComputer",
    "FeatureExtractor", "FileLock", "LayerInfo", "LayerResolution", "LayerTap", "ModelSpec", "Preprocessing", "SourceError",
    "SourceTable", "UnknownLayerError", "UnknownModelError", "WeightsError", "WeightsNotFoundError",
    "WorkerDiedError",
    "build_architecture", "build_backbone", "cache_info", "decode_rgb", "extract", "list_layers",
    "open_source", "penultimate_layer", "pool", "read_cache", "read_checkpoint", "resolve_device",
    "resolve_layers", "resolve_precision", "resolve_spec", "save_checkpoint",
]


def __getattr__(name):
    # the scikit-learn transformer is imported on first use: sklearn costs seconds to import
    if name == "FeatureExtractor":
        from featx.extract._transformer import FeatureExtractor

        return FeatureExtractor
    raise AttributeError(f"module 'featx.extract' has no attribute {name!r}")
