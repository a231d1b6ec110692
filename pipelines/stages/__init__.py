"""The stages of ``featx run``: their cache keys (``_keys``), the stage runner (``_stages``), the
audit, dedupe, transfer and explore stages (``_audit``, ``_dedupe``, ``_transfer``, ``_explore``).

May import featx.extract, featx.classify, featx.common, featx.pipelines' top-level modules and
featx.pipelines.explore;
never featx.pipelines.commands.
"""
