from featx.pipelines._errors import PipelineError, SpecError

__all__ = ["PipelineError", "SpecError"]
