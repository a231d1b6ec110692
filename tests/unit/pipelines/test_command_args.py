"""pipelines/commands/_args.add_command: the one way a sub-command's parser is made (its line in
``featx --help``, its description folded to single spaces, the positional ``cache`` of the
commands that read one cache), shown on a throw-away parser and on featx's own commands."""

from __future__ import annotations

import argparse

from featx.pipelines.cli import build_parser
from featx.pipelines.commands._args import add_command

CACHE_COMMANDS = ("info", "fit", "audit", "explore", "similar")


def _commands(parser) -> dict:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_add_command_folds_the_description_and_adds_the_cache_argument():
    parser = argparse.ArgumentParser(prog="t")
    sub = parser.add_subparsers(dest="command")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true")
    p = add_command(sub, [common], "look", cache=True, help="look at a cache", description="""
        First line of the text,
           and   the second.""")
    q = add_command(sub, [common], "plain", help="no description")
    assert p.description == "First line of the text, and the second." and q.description is None
    assert [a.dest for a in p._actions] == ["help", "debug", "cache"] and [a.dest for a in q._actions] == ["help", "debug"]
    assert vars(parser.parse_args(["look", "c.h5", "--debug"])) == {"command": "look", "cache": "c.h5", "debug": True}
    assert "look at a cache" in parser.format_help() and "no description" in parser.format_help()


def test_featx_commands_have_folded_descriptions_and_one_cache_argument():
    commands = _commands(build_parser())
    described = {n for n, p in commands.items() if p.description}
    assert described == {"audit", "consolidate", "cv", "explore", "extract", "finetune", "run", "similar"}
    for name in described:
        text = commands[name].description
        assert text == " ".join(text.split()) and text.endswith("."), name
    for name in CACHE_COMMANDS:
        positional = [a for a in commands[name]._actions if not a.option_strings]
        assert (positional[0].dest, positional[0].help) == ("cache", "HDF5 cache written by 'featx extract'"), name
