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

from featx.common.lazy import lazy_names
from featx.extract.finetune._config import BN_MODES, FINETUNE_OPTIONS, OPTIMIZERS, SCRATCH, STRATEGIES, FinetuneConfig, Strategy
from featx.extract.finetune._errors import ArchitectureMismatchError, FinetuneConfigError, FinetuneDataError, FinetuneError, ResumeMismatchError

# imported on first use (PEP 562): the settings above are read by the CLI without torch
_LAZY = {
    "Callback": "_callbacks", "EarlyStopping": "_callbacks", "EpochLog": "_callbacks",
    "ResumeCheckpoint": "_callbacks", "Unfreezer": "_callbacks", "BlockGroup": "_groups",
    "Freezer": "_groups", "block_groups": "_groups", "find_head": "_groups", "replace_head": "_groups",
    "strategy_problems": "_groups", "split_problem": "_data",
    "Trainer": "_loop", "evaluate": "_loop", "train_epoch": "_loop", "Prediction": "_predict",
    "Predictions": "_predict", "predict_with_checkpoint": "_predict", "write_predictions_csv": "_predict",
    "resume_path": "_state", "FinetuneModel": "_trainer", "FinetuneResult": "_trainer",
    "build_model": "_trainer", "finetune": "_trainer",
    "PROBE_IMAGES": "_probe", "SourceProbe": "_probe", "probe_rows": "_probe", "probe_source_model": "_probe",
}

__all__ = [
    "BN_MODES", "FINETUNE_OPTIONS", "OPTIMIZERS", "SCRATCH", "STRATEGIES", "ArchitectureMismatchError", "BlockGroup", "Callback", "EarlyStopping",
    "EpochLog", "FinetuneConfig", "FinetuneConfigError", "FinetuneDataError", "FinetuneError", "FinetuneModel",
    "FinetuneResult", "Freezer", "Prediction", "Predictions", "ResumeCheckpoint", "ResumeMismatchError", "SourceProbe", "Strategy",
    "Trainer", "Unfreezer", "block_groups", "build_model", "evaluate", "find_head",
    "PROBE_IMAGES", "finetune", "predict_with_checkpoint", "probe_rows", "probe_source_model", "replace_head", "resume_path", "split_problem", "strategy_problems", "train_epoch", "write_predictions_csv",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
