"""Errors and warnings raised by featx.classify.

Every leaf error also subclasses the builtin a caller would naturally catch, and every message is
one line that names the problem and the fix (quoting the bad value and the allowed set).
"""

from __future__ import annotations

from numbers import Integral

from featx.common.messages import unknown_choice


class ClassifyError(Exception):
    """Base class of the errors raised by featx.classify."""


class FeatureSetError(ClassifyError, ValueError):
    """Features or labels cannot be used as given (empty, NaN/inf, one class, unlabelled rows...)."""


class UnknownHeadError(ClassifyError, ValueError):
    """A head name is not one of ``HEADS``."""


class ParameterError(ClassifyError, ValueError):
    """An argument has a value outside its allowed set (folds, pca, search, metric...)."""


class GridError(ClassifyError, ValueError):
    """A search grid names a parameter the head does not have, or has an empty value list."""


class SplitError(ClassifyError, ValueError):
    """Cross-validation splits cannot be made, or given splits are malformed."""


class AlignmentError(ClassifyError, ValueError):
    """Several feature sets do not describe the same rows (labels, keys or groups differ)."""


class IncompatibleBundleError(ClassifyError, ValueError):
    """A bundle was trained on features made differently from the ones it is asked to predict."""


class BundleIntegrityError(ClassifyError, OSError):
    """A bundle file has no checksum sidecar, or its checksum does not match."""


class OutputExistsError(ClassifyError, FileExistsError):
    """An output file (bundle, JSON) exists and overwriting was not asked for."""


class MissingDependencyError(ClassifyError, ImportError):
    """An optional dependency (pandas) is needed for the call but not installed."""


class ClassifyWarning(UserWarning):
    """Something was adjusted automatically (folds capped...); the run goes on."""


def choose_from(choices) -> str:
    """``"choose from: a, b, c"`` with the choices sorted."""
    return "choose from: " + ", ".join(sorted(str(c) for c in choices))


def unknown_message(what: str, name, choices) -> str:
    """``"unknown head 'lgreg'; did you mean 'logreg'? choose from: ..."`` (one line)."""
    return unknown_choice(what, name, choices, sort=True)


def check_option(option, value, expected: str | None = None):
    """``option.check(value)`` (a :class:`featx.common.Option`) with classify's messages:
    ``"folds must be an int >= 2; got 1"``, ``"unknown search 'rand'; did you mean 'random'? ..."``.

    numpy integers count as ints; ``expected`` replaces the generated "an int >= 2" wording.
    """
    from featx.common import OptionError

    if isinstance(value, Integral) and not isinstance(value, bool) and type(value) is not int:
        value = int(value)
    try:
        return option.check(value)
    except OptionError:
        pass
    if option.choices is not None and expected is None:
        raise ParameterError(unknown_message(option.name, value, option.choices)) from None
    if expected is None:
        if option.kind is bool:
            expected = "True or False"
        else:
            expected = "an int" if option.kind is int else "a number"
            if option.minimum is not None:
                expected += f" >= {option.minimum}"
    raise ParameterError(f"{option.name} must be {expected}; got {value!r}") from None
