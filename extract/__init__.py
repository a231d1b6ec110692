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
from featx.extract.cluster._shards import SHARD_SIZE  # light: no torch, no h5py
from featx.extract.models._registry import (  # light modules: no torch
    BUILTIN,
    DEFAULT_MODEL,
    ModelSpec,
    register_backbone,
    resolve_spec,
    unregister_backbone,
)

# imported on first use (PEP 562), so reading the settings or the model names (the CLI's
# start-up, the pipeline spec) does not import torch: public name -> private module
_LAZY = {
    "Backbone": "models._backbones", "build_architecture": "models._backbones", "build_backbone": "models._backbones",
    "read_checkpoint": "models._checkpoint", "save_checkpoint": "models._checkpoint", "FeatureComputer": "runtime._compute",
    "resolve_device": "runtime._compute", "resolve_precision": "runtime._compute", "ExtractionSummary": "_engine",
    "extract": "_api", "DEFAULT_MAX_PIXELS": "images._images", "decode_rgb": "images._images", "LayerInfo": "models._layers",
    "LayerTap": "models._layers", "PENULTIMATE": "models._layers", "list_layers": "models._layers",
    "penultimate_layer": "models._layers", "FileLock": "cache._lock", "phash_files": "images._phash", "scan_files": "images._phash", "IMAGE_STAT_NAMES": "images._pixstats", "pool": "models._pooling",
    "Preprocessing": "_preprocess", "CacheData": "cache._reader", "cache_info": "cache._reader", "read_cache": "cache._reader",
    "LayerResolution": "models._resolve", "resolve_layers": "models._resolve", "build_runtime": "runtime._runtime", "register_runtime": "runtime._registry", "unregister_runtime": "runtime._registry",
    "IMAGE_EXTENSIONS": "images._sources", "SourceTable": "images._sources", "open_source": "images._sources",
    "check_backbone": "_checks", "FeatureExtractor": "_transformer", "check_model": "_checks", "check_source": "_checks",
    "ResolvedBackbone": "_checks", "resolve_backbone": "_checks", "thumbnail_jpeg": "images._thumbs",
    "write_image_folder": "images._folders", "consolidate": "cache._join", "recorded_shards": "cache._join", "ClusterExtractionSummary": "cluster._cluster",
}

# the curated surface: what a user script calls (README "The Python API"). The other names of _LAZY
# still resolve here for old scripts; their home is the sub-package that exports them
# (featx.extract.cache, .images, .models, .runtime, ...; pipelines imports them from there).
__all__ = [
    "extract", "read_cache", "cache_info", "CacheData", "ExtractionSummary", "ClusterExtractionSummary",
    "FeatureExtractor", "consolidate", "list_layers", "penultimate_layer", "build_backbone", "Backbone",
    "ModelSpec", "Preprocessing", "resolve_spec", "BUILTIN", "DEFAULT_MODEL", "register_backbone", "unregister_backbone",
    "register_runtime", "unregister_runtime", "check_source", "check_model", "check_backbone", "ResolvedBackbone",
    "resolve_backbone", "save_checkpoint", "read_checkpoint", "SourceTable", "open_source", "IMAGE_EXTENSIONS",
    "CacheDamagedError", "CacheError", "CacheLockedError", "CacheMismatchError", "CacheWriteError", "CheckpointError",
    "ClusterExtractError", "ExtractError", "ExtractionFailedError", "SourceError", "UnknownLayerError",
    "UnknownModelError", "WeightsError", "WeightsNotFoundError", "WorkerDiedError", "BATCH_SIZE", "DEVICE",
    "DTYPE", "SHARD_SIZE", "EXTRACTION_OPTIONS", "JPEG_DRAFT", "MAX_PIXELS", "POOL", "POOLS", "PRECISION",
    "RUNTIME", "TOKEN_POOLS", "TTA", "WORKERS",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
