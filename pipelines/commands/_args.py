"""argparse helpers the subcommands share: flags built from Options, values read back by name."""

from __future__ import annotations

import dataclasses


def add_options(parser, options, **overrides) -> None:
    """Add each :class:`featx.common.Option` of ``options`` to ``parser`` (flag, choices, default
    and help from the one definition). ``overrides`` maps an option's name to changes for this
    command: ``default`` and ``help`` replace the option's own (the shown default follows), other
    keys go to ``parser.add_argument``."""
    for option in options:
        kw = dict(overrides.get(option.name, {}))
        own = {k: kw.pop(k) for k in ("default", "help") if k in kw}
        dataclasses.replace(option, **own).add_argument(parser, **kw)


def option_values(args, options) -> dict:
    """``{name: value}`` of ``options`` as parsed, leaving out ``None`` (not given: the library's
    own default applies, e.g. ``--workers auto`` or featx's pixel limit)."""
    values = {o.name: getattr(args, o.name) for o in options}
    return {k: v for k, v in values.items() if v is not None}
