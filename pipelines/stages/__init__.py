"""The stages of ``featx run``: their cache keys (``_keys``), the stage runner (``_stages``), the
audit, dedupe and transfer stages (``_audit``, ``_dedupe``, ``_transfer``).

May import featx.extract, featx.classify, featx.common and featx.pipelines' top-level modules;
never featx.pipelines.commands.
"""
