"""The ``featx`` sub-commands, one module a group (``_extract``, ``_classify``, ``_audit``,
``_finetune``, ``_run``), and the shared way they turn Options into flags (``_args``).

May import featx.extract, featx.classify, featx.common and the rest of featx.pipelines.
"""
