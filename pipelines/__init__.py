"""featx.pipelines: the ``featx`` CLI, declarative jobs (``run_job``), reports and the demo."""

from featx.pipelines._errors import PipelineError, SpecError

__all__ = ["JobResult", "PipelineError", "Spec", "SpecError", "check_backbones", "load_spec", "run_job"]


def __getattr__(name):  # lazy, so `featx --help` stays light
    if name in ("run_job", "JobResult"):
        from featx.pipelines import _job

        return getattr(_job, name)
    if name in ("Spec", "load_spec", "check_backbones"):
        from featx.pipelines import _spec

        return getattr(_spec, name)
    raise AttributeError(f"module 'featx.pipelines' has no attribute {name!r}")
