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

from featx.extract.finetune._callbacks import Callback, EarlyStopping, EpochLog, ResumeCheckpoint, Unfreezer
from featx.extract.finetune._config import BN_MODES, FINETUNE_OPTIONS, OPTIMIZERS, FinetuneConfig, Strategy
from featx.extract.finetune._errors import (
    ArchitectureMismatchError,
    FinetuneConfigError,
    FinetuneDataError,
    FinetuneError,
    ResumeMismatchError,
)
from featx.extract.finetune._groups import BlockGroup, Freezer, block_groups, find_head, replace_head
from featx.extract.finetune._loop import Trainer, evaluate, train_epoch
from featx.extract.finetune._predict import Prediction, Predictions, predict_with_checkpoint, write_predictions_csv
from featx.extract.finetune._state import resume_path
from featx.extract.finetune._trainer import FinetuneModel, FinetuneResult, build_model, finetune

__all__ = [
    "BN_MODES", "FINETUNE_OPTIONS", "OPTIMIZERS", "ArchitectureMismatchError", "BlockGroup", "Callback", "EarlyStopping",
    "EpochLog", "FinetuneConfig", "FinetuneConfigError", "FinetuneDataError", "FinetuneError", "FinetuneModel",
    "FinetuneResult", "Freezer", "Prediction", "Predictions", "ResumeCheckpoint", "ResumeMismatchError", "Strategy",
    "Trainer", "Unfreezer", "block_groups", "build_model", "evaluate", "find_head",
    "finetune", "predict_with_checkpoint", "replace_head", "resume_path", "train_epoch", "write_predictions_csv",
]
