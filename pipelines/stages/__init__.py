"""The stages of ``featx run``: :func:`job_stages` lists them in order (``_plan``), each a
:class:`Stage` declaring the context names it reads and adds (``_pipeline``: :func:`check_order`
refuses a list whose stage reads a name nothing before it provides, :func:`run_stages` runs it);
their bodies: ``_extract``, ``_load``, ``_cv``, ``_audit``, ``_explore``, ``_transfer``; their cache
keys (``_keys``) and result cache (``_stages``); what the job returns (``_result``: JobResult);
the dedupe helpers of ``featx audit`` and ``featx cv`` (``_dedupe``).

May import featx.extract, featx.classify, featx.common, featx.pipelines' top-level modules and
featx.pipelines.explore;
never featx.pipelines.commands.
"""

from featx.pipelines.stages._pipeline import Stage, StageOrderError, check_order, run_stages
from featx.pipelines.stages._plan import GIVEN, job_stages

__all__ = ["GIVEN", "Stage", "StageOrderError", "check_order", "job_stages", "run_stages"]
