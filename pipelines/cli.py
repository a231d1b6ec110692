"""The ``featx`` command line: one parser, subcommands registered by small modules.

Each ``_cmd_*.py`` module exposes ``register(subparsers, parents)``; a subcommand stores its
handler in ``func`` and the handler returns an exit code. Errors that users can fix are raised
as ``FeatxError`` subclasses and printed as one ``error:`` line (exit 2); ``--debug`` re-raises.
"""

from __future__ import annotations

import argparse
import sys

from featx.pipelines._errors import user_errors

COMMAND_MODULES = (
    "featx.pipelines._cmd_extract",
    "featx.pipelines._cmd_classify",
    "featx.pipelines._cmd_run",
    "featx.pipelines._cmd_finetune",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser = argparse.ArgumentParser(
        prog="featx",
        description="Pretrained image networks as fixed feature extractors, with classical ML on top.",
    )
    parser.add_argument("--version", action="version", version=f"featx {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a subcommand module not written yet
            if exc.name != name:
                raise
            continue
        module.register(sub, [common])
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("featx")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
