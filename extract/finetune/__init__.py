"""featx.extract.finetune: fine-tune a pretrained backbone on labelled images, so that its layers
feed back into the extractor (``featx extract --model model.pt``) and its head classifies
directly (``predict_with_checkpoint``).

Typical use::

    from featx.extract.finetune import finetune, predict_with_checkpoint
    result = finetune("photos/train", "model.pt", strategy="partial:2", epochs=10)
    print(result.line())
    preds = predict_with_checkpoint("model.pt", "photos/val")

Strategies: ``head`` (backbone frozen, BatchNorm statistics too), ``partial:K`` (the top K block
groups train), ``full``, ``gradual[:K]`` (one more group from the top every ``unfreeze_every``
epochs). A killed run resumes from its last epoch when called again with the same settings.

The loop is a :class:`Trainer` whose policies are callbacks (:class:`Unfreezer`,
:class:`EarlyStopping`, :class:`ResumeCheckpoint`, :class:`EpochLog`); every setting is an Option
in :data:`FINETUNE_OPTIONS` (the ``featx finetune`` flags are built from them).
"""

from featx.common.lazy import lazy_exports
from featx.extract.finetune._config import BN_MODES, FINETUNE_OPTIONS, OPTIMIZERS, SCRATCH, STRATEGIES, FinetuneConfig, Strategy
from featx.extract.finetune._errors import ArchitectureMismatchError, FinetuneConfigError, FinetuneDataError, FinetuneError, ResumeMismatchError

__all__ = ["BN_MODES", "FINETUNE_OPTIONS", "OPTIMIZERS", "SCRATCH", "STRATEGIES", "FinetuneConfig", "Strategy",
           "ArchitectureMismatchError", "FinetuneConfigError", "FinetuneDataError", "FinetuneError", "ResumeMismatchError"]  # imported above
# imported on first use (PEP 562): the settings above are read by the CLI without torch
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _callbacks: Callback EarlyStopping EpochLog ResumeCheckpoint Unfreezer
    _data: split_problem
    _groups: BlockGroup Freezer block_groups find_head replace_head strategy_problems
    _loop: Trainer evaluate train_epoch
    _predict: Prediction Predictions predict_with_checkpoint write_predictions_csv
    _probe: PROBE_IMAGES SourceProbe probe_rows probe_source_model
    _state: resume_path
    _trainer: FinetuneModel FinetuneResult build_model finetune
""", eager=__all__)
