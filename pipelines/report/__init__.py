"""The job's report: ``report.html`` and ``results.json`` (``_report``), its audit, LogME and
transfer sections (``_audit``, ``_logme``, ``_transfer``) and plots (``_plots``).

May import featx.common, the public featx.extract/featx.classify and featx.pipelines'
top-level modules; never featx.pipelines.commands or featx.pipelines.stages.
"""
