"""featx.pipelines: the ``featx`` CLI, declarative jobs (``run_job``), reports and the demo, and
the cache -> FeatureSet step (:func:`feature_sets_from_cache`, :func:`load_feature_sets`) that
joins featx.extract to featx.classify."""

from featx.common.lazy import lazy_exports
from featx.pipelines._errors import PipelineError, SpecError

__all__ = ["PipelineError", "SpecError"]  # imported above; lazy_exports adds the lazy names
# imported on first use, so `featx --help` stays light: public names by private module
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _glue: feature_sets_from_cache load_feature_sets
    _job: JobResult run_job
    _spec: Spec check_backbones load_spec
""", eager=__all__)
