"""The transfer study's held-out and data-efficiency settings (a light module: no numpy, no
scikit-learn), read by :mod:`._holdout` and the pipeline spec's ``[finetune]`` section."""

from __future__ import annotations

import dataclasses

from featx.common import Option

from featx.classify.heads._options import FRACTIONS


@dataclasses.dataclass(frozen=True)
class _EfficiencyOption(Option):
    """'off' (None) or increasing fractions in (0, 1], as :data:`FRACTIONS` checks them."""

    def _check(self, v):
        if v is None or v == "off":
            return None
        return FRACTIONS._check(v)

    @property
    def doc(self) -> str:
        return "'off' or array of increasing numbers in (0, 1]"


HOLDOUT_FOLDS = Option("holdout_folds", 3, "Outer stratified folds when the source has no train/val (or Training/Testing) "
                       "split of its own; every approach then trains once per fold, so the study costs this many times "
                       "more.", kind=int, minimum=2, maximum=20)
DATA_EFFICIENCY = _EfficiencyOption("data_efficiency", None, "Training fractions of the data-efficiency curve (stratified "
                                    "subsets of the training part, e.g. [0.1, 0.25, 0.5, 1.0]) for frozen features, the "
                                    "best fine-tuning strategy and scratch; 'off': none.", none_word="off")
