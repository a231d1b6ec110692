"""Inference runtimes: the torch forward (``_compute``, with BatchNorm folding in ``_bnfold``),
OpenVINO (``_openvino``, its compiled-model cache ``_ovcache``) and the choice between them
(``_runtime``).

May import featx.common, featx.extract.models and featx.extract._errors/_options/_preprocess;
never featx.extract.cache or featx.extract.cluster.
"""

from featx.common.lazy import lazy_exports

# public names by module (in this sub-package), imported on first use
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _compute: FeatureComputer resolve_device resolve_precision
    _runtime: build_runtime
""")
