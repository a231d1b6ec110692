"""The classify settings that are more than one plain value, as :class:`featx.common.Option`:
the PCA setting of a head's pipeline (``PCA``: the spec's ``classify.pca`` and ``head_pca``, the
CLI's ``--pca``) and the training-set fractions of a learning curve (``FRACTIONS``)."""

from __future__ import annotations

import dataclasses

from featx.common import Option, OptionError
from featx.common.option_lists import ListOption
from featx.common.options import got, suggest

from ._heads import HEADS

_EXPECTED = "expected 'off', 'search', an integer >= 1 or a float in (0, 1)"


@dataclasses.dataclass(frozen=True)
class PCAOption(Option):
    """``None``/'off' (no PCA), ``'search'`` (nested CV only: searched over ``PCA_GRID``), an
    integer >= 1 (components) or a float in (0, 1) (kept variance). ``check`` takes the value as
    a spec or Python gives it; the CLI flag reads text (``64``, ``0.95``, ``off``; ``0`` is off)."""

    def _check(self, v):
        if v is None or v is False:
            return None
        if isinstance(v, str):
            low = v.strip().lower()
            if low in ("off", "none", "search"):
                return None if low != "search" else "search"
            raise OptionError(f"{_EXPECTED}, got {v!r}{suggest(low, ['off', 'search'])}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise OptionError(f"{_EXPECTED}, {got(v)}")
        if isinstance(v, int) and v < 1:
            raise OptionError(f"an integer number of components must be >= 1, got {v} (use 'off' to disable PCA)")
        if isinstance(v, float) and not 0 < v < 1:
            raise OptionError(f"a variance fraction must be in (0, 1), got {v} (use an integer for components)")
        return v

    def _parse_cli(self, text: str):
        import argparse

        low = text.strip().lower()
        try:
            number = float(low) if low not in ("off", "none", "search", "") else None
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_EXPECTED}, got {text!r}{suggest(low, ['off', 'search'])}") from None
        if number is not None:  # a whole number >= 1 is a count of components; 0 is off
            low = None if number == 0 else int(number) if number >= 1 and number.is_integer() else number
        try:
            return self._check(low or None)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    @property
    def doc(self) -> str:
        return "'off', 'search', integer >= 1 (components) or float in (0, 1) (kept variance)"

    @staticmethod
    def describe(value) -> str:
        """The setting in words, as the report states it."""
        if value is None:
            return "off"
        if value == "search":
            return "searched over the default grid"
        return f"{value} components" if isinstance(value, int) else f"{value:g} of the variance kept"


PCA = PCAOption("pca", None, "PCA inside every head's pipeline (refit per training fold): 'off', 'search' (nested only: searched "
                "over featx.classify's PCA_GRID), components (int) or kept variance (float)", none_word="off")


@dataclasses.dataclass(frozen=True)
class FractionsOption(Option):
    """Increasing training-set fractions in (0, 1] without repeats; ``check`` returns a tuple
    of floats."""

    def _check(self, v):
        if not isinstance(v, (list, tuple)) or not v:
            raise OptionError(f"expected a non-empty array of numbers in (0, 1], {got(v)}")
        bad = [x for x in v if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 < x <= 1]
        if bad:
            raise OptionError(f"expected numbers in (0, 1], {got(bad[0])}")
        out = [float(x) for x in v]
        if out != sorted(set(out)):
            raise OptionError("expected increasing fractions without repeats, such as [0.1, 0.5, 1.0]")
        return tuple(out)

    @property
    def doc(self) -> str:
        return "array of increasing numbers in (0, 1]"


FRACTIONS = FractionsOption("fractions", (0.1, 0.25, 0.5, 0.75, 1.0), "Training-set fractions of the learning curve "
                            "(stratified subsets of each outer training fold)")


#: The heads a study cross-validates on every layer (``featx cv --heads``, the spec's ``classify.heads``).
HEAD_LIST = ListOption("heads", ("logreg", "svm", "rf", "xgb"), "Classical heads to cross-validate on every layer.",
                       choices=HEADS)
