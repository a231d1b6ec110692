"""``ListOption``: a setting whose value is a list of strings (heads, layers, metrics, notes),
checked like an :class:`~featx.common.options.Option` and described the same way; on the command
line it is one comma-separated flag (``--heads logreg,svm``)."""

from __future__ import annotations

import dataclasses

from featx.common.options import Option, OptionError, got, not_allowed


@dataclasses.dataclass(frozen=True)
class ListOption(Option):
    """An array of non-empty strings (stripped), each from ``choices`` when given, at least
    ``min_len`` of them, and each listed once unless ``unique`` is false. ``check`` returns a
    tuple. On the command line the value is comma-separated text, checked the same way."""

    min_len: int = 1
    unique: bool = True

    def _check(self, v):
        if isinstance(v, str):
            raise OptionError(f"expected an array of strings such as [{v!r}], {got(v)}")
        if not isinstance(v, (list, tuple)):
            raise OptionError(f"expected an array of strings, {got(v)}")
        if len(v) < self.min_len:
            raise OptionError(f"expected at least {self.min_len} entr{'y' if self.min_len == 1 else 'ies'}, got an empty array")
        for x in v:
            if not isinstance(x, str) or not x.strip():
                raise OptionError(f"expected an array of non-empty strings, {got(x)}")
            if self.choices is not None and x not in self.choices:
                raise OptionError(not_allowed(x, self.choices))
        out = tuple(x.strip() for x in v)
        dup = sorted({x for x in out if out.count(x) > 1})
        if self.unique and dup:
            raise OptionError(f"lists {dup[0]!r} twice; list every entry once")
        return out

    @property
    def doc(self) -> str:
        return "array of strings" + (f" from {', '.join(self.choices)}" if self.choices else "")

    def add_argument(self, parser, **overrides):
        """Add this option as one comma-separated flag (``dest`` is the option's name)."""
        shown = ",".join(self.default) if self.default else None
        among = f"; from {', '.join(self.choices)}" if self.choices else ""
        kw = {"dest": self.name, "default": self.default, "type": self._parse_cli, "metavar": self.name.upper(),
              "help": f"{self.help} (comma-separated{among}" + (f"; default {shown})" if shown else ")")}
        kw.update(overrides)
        return parser.add_argument(self.cli_flag, **kw)

    def _parse_cli(self, text: str):
        import argparse

        try:
            return self._check([x.strip() for x in text.split(",") if x.strip()])
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
