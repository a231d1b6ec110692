"""featx.extract: pretrained backbones, layer taps and the resumable HDF5 feature cache.

Typical use::

    from featx.extract import extract, read_cache
    extract("photos/", "photos.h5")                 # efficientnet_lite0, penultimate layer
    data = read_cache("photos.h5")
    X, y = data.features[data.meta["layers"][0]], data.labels
"""

from featx.common.lazy import lazy_names
from featx.extract._errors import (  # light modules: no torch
    CacheDamagedError,
    CacheError,
    CacheLockedError,
    CacheMismatchError,
    CacheWriteError,
    CheckpointError,
    ClusterExtractError,
    ExtractError,
    ExtractionFailedError,
    SourceError,
    UnknownLayerError,
    UnknownModelError,
    WeightsError,
    WeightsNotFoundError,
    WorkerDiedError,
)
from featx.extract._options import (  # light modules: no torch
    BATCH_SIZE,
    DEVICE,
    DTYPE,
    EXTRACTION_OPTIONS,
    JPEG_DRAFT,
    MAX_PIXELS,
    POOL,
    POOLS,
    PRECISION,
    RUNTIME,
    TOKEN_POOLS,
    TTA,
    WORKERS,
)
from featx.extract._shards import SHARD_SIZE  # light: no torch, no h5py
from featx.extract._registry import (  # light modules: no torch
    BUILTIN,
    DEFAULT_MODEL,
    ModelSpec,
    resolve_spec,
)

# imported on first use (PEP 562), so reading the settings or the model names (the CLI's
# start-up, the pipeline spec) does not import torch: public name -> private module
_LAZY = {
    "Backbone": "_backbones", "build_architecture": "_backbones", "build_backbone": "_backbones",
    "read_checkpoint": "_checkpoint", "save_checkpoint": "_checkpoint", "FeatureComputer": "_compute",
    "resolve_device": "_compute", "resolve_precision": "_compute", "ExtractionSummary": "_engine",
    "extract": "_engine", "DEFAULT_MAX_PIXELS": "_images", "decode_rgb": "_images", "LayerInfo": "_layers",
    "LayerTap": "_layers", "PENULTIMATE": "_layers", "list_layers": "_layers",
    "penultimate_layer": "_layers", "FileLock": "_lock", "phash_files": "_phash", "pool": "_pooling",
    "Preprocessing": "_preprocess", "CacheData": "_reader", "cache_info": "_reader", "read_cache": "_reader",
    "LayerResolution": "_resolve", "resolve_layers": "_resolve", "build_runtime": "_runtime",
    "IMAGE_EXTENSIONS": "_sources", "SourceTable": "_sources", "open_source": "_sources",
    "check_backbone": "_checks", "FeatureExtractor": "_transformer", "check_model": "_checks", "check_source": "_checks",
    "ResolvedBackbone": "_checks", "resolve_backbone": "_checks", "thumbnail_jpeg": "_thumbs",
    "write_image_folder": "_folders", "consolidate": "_join", "ClusterExtractionSummary": "_cluster",
}

__all__ = [
    "BATCH_SIZE", "DEVICE", "DTYPE", "SHARD_SIZE", "EXTRACTION_OPTIONS", "JPEG_DRAFT", "MAX_PIXELS", "POOL", "PRECISION", "RUNTIME", "TTA",
    "WORKERS",
    "BUILTIN", "DEFAULT_MAX_PIXELS", "DEFAULT_MODEL", "IMAGE_EXTENSIONS", "PENULTIMATE", "POOLS", "TOKEN_POOLS",
    "Backbone", "CacheData", "CacheDamagedError", "CacheError", "CacheLockedError", "CacheMismatchError", "CacheWriteError",
    "CheckpointError", "ClusterExtractError", "ClusterExtractionSummary", "ExtractError", "ExtractionFailedError", "ExtractionSummary", "FeatureComputer",
    "FeatureExtractor", "FileLock", "LayerInfo", "LayerResolution", "LayerTap", "ModelSpec", "Preprocessing", "ResolvedBackbone", "SourceError",
    "SourceTable", "UnknownLayerError", "UnknownModelError", "WeightsError", "WeightsNotFoundError",
    "WorkerDiedError",
    "build_architecture", "build_backbone", "build_runtime", "cache_info", "check_backbone", "check_model", "check_source",
    "consolidate", "decode_rgb", "extract", "list_layers",
    "open_source", "penultimate_layer", "phash_files", "pool", "read_cache", "read_checkpoint", "resolve_device",
    "resolve_backbone", "resolve_layers", "resolve_precision", "resolve_spec", "save_checkpoint", "thumbnail_jpeg",
    "write_image_folder",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
