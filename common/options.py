"""A setting defined once: its name, choices, default and one line of help.

The module that uses a setting defines it as an :class:`Option` beside the code that reads it
(``featx.extract`` defines ``precision``, ``pool``, ...; ``featx.classify`` its CV settings). The
Python API checks arguments with :meth:`Option.check`, the CLI adds the flag with
:meth:`Option.add_argument`, and the pipeline spec builds its schema and ``docs/spec.md`` from
the same objects, so a new choice or a new setting is a change in one place.

Messages follow scikit-learn's: they quote the value and the allowed set, and suggest close
matches ("precision: unknown value 'bf61'; did you mean 'bf16'? choose from: auto, fp32, bf16, fp16").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from featx.common.messages import unknown_choice


class OptionError(ValueError):
    """A value failed an option's check (message: what was expected, what was given)."""


def type_name(v) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (list, tuple)):
        return "an array"
    if isinstance(v, Mapping):
        return "a table"
    return type(v).__name__


def got(v) -> str:
    """``got 12 (an integer)``: the value as given, shortened, and its type."""
    try:
        shown = json.dumps(v, allow_nan=False)
    except (TypeError, ValueError):
        shown = repr(v)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"got {shown} ({type_name(v)})"


def not_allowed(value, choices) -> str:
    """``"unknown value 'bf61'; did you mean 'bf16'? choose from: ..."`` (common.messages.unknown_choice)."""
    return unknown_choice("value", value, choices)


def _range(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting.

    ``kind`` is ``str``, ``int``, ``float`` or ``bool``. ``choices`` restricts a string.
    ``minimum``/``maximum`` bound a number. ``words`` are extra strings a number option accepts
    as they are (e.g. ``-1``-like words); ``none_word`` is the word that stands for ``None`` in a
    spec or on the command line (``workers = "auto"`` -> ``None``), and ``None`` itself is
    accepted when ``none_word`` is set or the default is ``None``. ``flag`` is the CLI flag
    (default ``--name-with-dashes``; a boolean defaulting to true gets ``--no-name``).
    """

    name: str
    default: Any
    help: str
    kind: type = str
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    none_word: str | None = None
    flag: str | None = None

    # -- checking -------------------------------------------------------------------------------

    @property
    def nullable(self) -> bool:
        return self.none_word is not None or self.default is None

    def check(self, value, where: str | None = None):
        """The checked value (``none_word`` -> None); raises :class:`OptionError` naming
        ``where`` (default: the option's name) when it is not allowed."""
        try:
            return self._check(value)
        except OptionError as exc:
            raise OptionError(f"{where or self.name}: {exc}") from None

    def _check(self, value):
        if value is None and self.nullable:
            return None
        if self.none_word is not None and value == self.none_word:
            return None
        if self.kind is bool:
            if not isinstance(value, bool):
                raise OptionError(f"expected true or false, {got(value)}")
            return value
        if self.kind in (int, float):
            ok = isinstance(value, int) if self.kind is int else isinstance(value, (int, float))
            if isinstance(value, bool) or not ok:
                extra = f" or {self.none_word!r}" if self.none_word else ""
                what = "an integer" if self.kind is int else "a number"
                raise OptionError(f"expected {what}{_range(self.minimum, self.maximum)}{extra}, {got(value)}")
            if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
                what = "an integer" if self.kind is int else "a number"
                raise OptionError(f"expected {what}{_range(self.minimum, self.maximum)}, got {value}")
            return self.kind(value)
        if not isinstance(value, str):
            shown = f" (one of {', '.join(self.choices)})" if self.choices else ""
            raise OptionError(f"expected a string{shown}, {got(value)}")
        if not value.strip():
            raise OptionError(f"expected a non-empty string, {got(value)}")
        if self.choices is not None and value not in self.choices:
            raise OptionError(not_allowed(value, self.choices))
        return value

    # -- showing ------------------------------------------------------------------------------

    @property
    def shown_default(self):
        """The default as a spec or the CLI writes it (``None`` -> ``none_word``)."""
        return self.none_word if self.default is None and self.none_word else self.default

    @property
    def doc(self) -> str:
        """The value type in words, for docs/spec.md (e.g. ``string (avg / max)``)."""
        if self.kind is bool:
            return "boolean"
        if self.kind in (int, float):
            text = ("integer" if self.kind is int else "number") + _range(self.minimum, self.maximum)
            return text + (f" or {self.none_word!r}" if self.none_word else "")
        return "string" + (f" ({' / '.join(self.choices)})" if self.choices else "")

    # -- the command line ----------------------------------------------------------------------

    @property
    def cli_flag(self) -> str:
        if self.flag:
            return self.flag
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if self.kind is bool and self.default is True else f"--{dashed}"

    def add_argument(self, parser, **overrides):
        """Add this option to an argparse parser (``dest`` is the option's name)."""
        kw: dict[str, Any] = {"dest": self.name, "help": self.help}
        if self.kind is bool:
            kw.update(action="store_false" if self.default is True else "store_true", default=bool(self.default))
        else:
            kw.update(default=self.default, type=self._parse_cli)
            if self.choices:
                kw["choices"] = list(self.choices)
                kw.pop("type")
            metavar = self.name.upper()
            kw["metavar"] = None if self.choices else metavar
            if kw["metavar"] is None:
                kw.pop("metavar")
            shown = self.shown_default
            if shown is not None and "default" not in self.help:
                kw["help"] = f"{self.help} (default {shown})"
        kw.update(overrides)
        return parser.add_argument(self.cli_flag, **kw)

    def _parse_cli(self, text: str):
        import argparse

        if self.none_word is not None and text == self.none_word:
            return None
        try:
            value = self.kind(text)
        except ValueError:
            extra = f" or {self.none_word!r}" if self.none_word else ""
            raise argparse.ArgumentTypeError(f"expected {'an integer' if self.kind is int else 'a number'}{extra}, got {text!r}") from None
        try:
            return self._check(value)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

