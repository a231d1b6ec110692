"""Backbones: the model registry (``_registry``), building architectures and loading weights
(``_backbones``, ``_weights``, ``_checkpoint``), layer taps (``_layers``, ``_resolve``)
and pooling (``_pooling``).

May import featx.common and featx.extract._errors/_options/_preprocess; never the cache,
runtime or cluster sub-packages.
"""
