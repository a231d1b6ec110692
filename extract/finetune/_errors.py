"""Errors raised by featx.extract.finetune.

They subclass :class:`featx.extract.ExtractError` (the CLI prints one ``error:`` line and exits 2)
and the builtin a caller would naturally catch. Every message is one line naming the fix.
"""

from __future__ import annotations

from featx.extract._errors import CheckpointError, ExtractError


class FinetuneError(ExtractError):
    """Base class of the errors raised by featx.extract.finetune."""


class FinetuneConfigError(FinetuneError, ValueError):
    """A fine-tuning parameter is out of range or unknown (strategy, K, learning rate...)."""


class FinetuneDataError(FinetuneError, ValueError):
    """The images cannot support fine-tuning: unlabelled, fewer than 2 classes, a class too small."""


class ResumeMismatchError(FinetuneError, ValueError):
    """An existing output or resume state was made with other settings."""


class ArchitectureMismatchError(ResumeMismatchError, CheckpointError):
    """A resume state or checkpoint belongs to another architecture."""
