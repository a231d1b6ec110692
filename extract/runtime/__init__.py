"""Inference runtimes: the torch forward (``_compute``, with BatchNorm folding in ``_bnfold``),
OpenVINO (``_openvino``, its compiled-model cache ``_ovcache``) and the choice between them
(``_runtime``).

May import featx.common, featx.extract.models and featx.extract._errors/_options/_preprocess;
never featx.extract.cache or featx.extract.cluster.
"""

from featx.common.lazy import lazy_names

# public name -> module of this sub-package, imported on first use
_LAZY = {
    "FeatureComputer": "_compute",
    "build_runtime": "_runtime",
    "resolve_device": "_compute",
    "resolve_precision": "_compute",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
