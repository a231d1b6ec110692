"""featx.pipelines: the ``featx`` CLI, declarative jobs (``run_job``), reports and the demo, and
the cache -> FeatureSet step (:func:`feature_sets_from_cache`, :func:`load_feature_sets`) that
joins featx.extract to featx.classify."""

from featx.common.lazy import lazy_names
from featx.pipelines._errors import PipelineError, SpecError

# imported on first use, so `featx --help` stays light: public name -> private module
_LAZY = {
    "JobResult": "_job", "run_job": "_job",
    "Spec": "_spec", "check_backbones": "_spec", "load_spec": "_spec",
    "feature_sets_from_cache": "_glue", "load_feature_sets": "_glue",
}
__all__ = sorted(["PipelineError", "SpecError", *_LAZY])

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
