"""Inference runtimes: the torch forward (``_compute``, with BatchNorm folding in ``_bnfold``),
OpenVINO (``_openvino``, its compiled-model cache ``_ovcache``) and the choice between them
(``_runtime``).

May import featx.common, featx.extract.models and featx.extract._errors/_options/_preprocess;
never featx.extract.cache or featx.extract.cluster.
"""
