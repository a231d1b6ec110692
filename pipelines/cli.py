"""The ``featx`` command line: one parser, subcommands registered by small modules.

Each ``_cmd_*.py`` module exposes ``register(subparsers, parents)``; a subcommand stores its
handler in ``func`` and the handler returns an exit code. Flags of library settings are built
from the library's own :class:`featx.common.Option` definitions (``featx.extract.EXTRACTION_OPTIONS``,
``featx.classify.CV_OPTIONS``), so their choices and defaults are written once.

Exit codes: 0 success; 2 a bad command line (one ``error:`` line from argparse) or an error the
user can fix - a ``PipelineError``, ``featx.extract.ExtractError``, ``featx.classify.ClassifyError``,
``featx.common.OptionError`` (or a subclass) or an ``OSError`` - printed as one ``error:`` line
(``--debug`` re-raises it with its traceback); 130 Ctrl-C; 141 (128 + SIGPIPE, as for Unix
tools) when the reader of stdout went away, e.g. ``featx info x.h5 | head -1``, which then
prints nothing more. See ``featx.pipelines._errors.user_errors``.
"""

from __future__ import annotations

import argparse
import sys

from featx.pipelines._errors import user_errors

COMMAND_MODULES = (
    "featx.pipelines.commands._extract",
    "featx.pipelines.commands._classify",
    "featx.pipelines.commands._run",
    "featx.pipelines.commands._finetune",
    "featx.pipelines.commands._audit",
    "featx.pipelines.commands._similar",
    "featx.pipelines.commands._explore",
)


# the module registering each command: `featx models` or `featx info` imports only its own (the
# others pull in torch or scikit-learn); a command not listed here registers every module
COMMAND_OWNERS = {
    "extract": "featx.pipelines.commands._extract", "info": "featx.pipelines.commands._extract",
    "models": "featx.pipelines.commands._extract", "layers": "featx.pipelines.commands._extract",
    "consolidate": "featx.pipelines.commands._extract",
    "cv": "featx.pipelines.commands._classify", "fit": "featx.pipelines.commands._classify",
    "predict": "featx.pipelines.commands._classify", "run": "featx.pipelines.commands._run",
    "finetune": "featx.pipelines.commands._finetune", "audit": "featx.pipelines.commands._audit",
    "similar": "featx.pipelines.commands._similar",
    "explore": "featx.pipelines.commands._explore",
}


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one ``error:`` line, like featx's other errors (subcommand
    parsers inherit the class)."""

    def error(self, message):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _owner(argv: list[str] | None) -> str | None:
    """The module that registers the command in ``argv`` (None: register them all)."""
    command = next((a for a in argv or [] if not a.startswith("-")), None)
    return COMMAND_OWNERS.get(command) if command else None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``featx`` parser; given the command line ``argv``, only the module of its command is
    registered (the parse is the same, start-up is shorter)."""
    import importlib

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser = _Parser(
        prog="featx",
        description="Pretrained image networks as fixed feature extractors, with classical ML on top.",
    )
    parser.add_argument("--version", action="version", version=f"featx {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    only = _owner(argv)
    for name in COMMAND_MODULES:
        if only and name != only:
            continue
        importlib.import_module(name).register(sub, [common])
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("featx")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    debug = getattr(args, "debug", False)
    with user_errors(debug) as outcome:
        outcome.code = args.func(args)
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
