"""Backbones: the model registry (``_registry``), building architectures and loading weights
(``_backbones``, ``_weights``, ``_checkpoint``), layer taps (``_layers``, ``_resolve``)
and pooling (``_pooling``).

May import featx.common and featx.extract._errors/_options/_preprocess; never the cache,
runtime or cluster sub-packages.
"""

from featx.common.lazy import lazy_exports

# public names by module (in this sub-package), imported on first use
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _backbones: build_architecture
    _layers: LayerInfo LayerTap PENULTIMATE
    _pooling: pool
    _resolve: LayerResolution resolve_layers
""")
