"""Errors of featx.pipelines and the one place that turns user errors into ``error:`` lines."""

from __future__ import annotations

import contextlib
import sys


class PipelineError(Exception):
    """Base class of the errors raised by featx.pipelines."""


class SpecError(PipelineError, ValueError):
    """A pipeline spec is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the spec has {len(self.problems)} problem(s):\n{lines}")


def _user_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [PipelineError]
    for module, name in (
        ("featx.extract", "ExtractError"),
        ("featx.classify", "ClassifyError"),
    ):
        try:
            mod = __import__(module, fromlist=[name])
            types.append(getattr(mod, name))
        except (ImportError, AttributeError):
            pass
    return tuple(types)


class _Outcome:
    code: int = 0


@contextlib.contextmanager
def user_errors(debug: bool = False):
    """Run a CLI handler: user errors become one ``error:`` line and exit code 2."""
    outcome = _Outcome()
    try:
        yield outcome
    except KeyboardInterrupt:
        print("\ninterrupted: finished work is saved; rerun the same command to resume", file=sys.stderr)
        outcome.code = 130
    except _user_error_types() as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        outcome.code = 2
    except OSError as exc:
        if debug:
            raise
        print(f"error: {exc.strerror or exc} ({exc.filename or 'I/O'}); check the path, permissions and free space", file=sys.stderr)
        outcome.code = 2
