"""Backbones: the model registry (``_registry``), building architectures and loading weights
(``_backbones``, ``_weights``, ``_checkpoint``), layer taps (``_layers``, ``_resolve``)
and pooling (``_pooling``).

May import featx.common and featx.extract._errors/_options/_preprocess; never the cache,
runtime or cluster sub-packages.
"""

from featx.common.lazy import lazy_names

# public name -> module of this sub-package, imported on first use
_LAZY = {
    "LayerInfo": "_layers",
    "LayerResolution": "_resolve",
    "LayerTap": "_layers",
    "PENULTIMATE": "_layers",
    "build_architecture": "_backbones",
    "pool": "_pooling",
    "resolve_layers": "_resolve",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
