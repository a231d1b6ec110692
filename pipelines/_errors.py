"""Errors of featx.pipelines and the one place that turns user errors into ``error:`` lines."""

from __future__ import annotations

import contextlib
import os
import sys

#: exit code when the reader of stdout went away (``featx info x.h5 | head``): 128 + SIGPIPE,
#: what the shell reports for a Unix tool that SIGPIPE ended
BROKEN_PIPE_EXIT = 141


class PipelineError(Exception):
    """Base class of the errors raised by featx.pipelines."""


class SpecError(PipelineError, ValueError):
    """A pipeline spec is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the spec has {len(self.problems)} problem(s):\n{lines}")


def _user_error_types() -> tuple[type[BaseException], ...]:
    import sys

    from featx.common import OptionError
    from featx.extract import ExtractError  # light: `import featx.pipelines` stays light

    # a ClassifyError can only come from a loaded featx.classify: importing scikit-learn here,
    # while an error is handled, would cost a second and let a late signal interrupt the import
    classify = sys.modules.get("featx.classify")
    extra = (classify.ClassifyError,) if classify is not None else ()
    return (PipelineError, ExtractError, *extra, OptionError)


class _Outcome:
    code: int = 0


def _stdout_reader_gone() -> bool:
    """True when stdout is a pipe whose reader closed it (a BrokenPipeError can also come from
    another pipe, e.g. a worker's, which is a real failure)."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows) or no real stdout
        return True


def _quiet_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush does not fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass


@contextlib.contextmanager
def user_errors(debug: bool = False):
    """Run a CLI handler. User errors become one ``error:`` line and exit code 2: a
    :class:`PipelineError`, featx.extract's ``ExtractError``, featx.classify's ``ClassifyError``,
    featx.common's ``OptionError`` (a rejected setting), their subclasses, and any ``OSError``
    (a path, permission or disk problem); ``debug`` re-raises them. Ctrl-C exits 130. A closed
    stdout (``featx info x.h5 | head -1``) is no error: the command stops quietly with exit
    code :data:`BROKEN_PIPE_EXIT`, as Unix tools do."""
    outcome = _Outcome()
    try:
        yield outcome
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
    except KeyboardInterrupt:
        print("\ninterrupted: finished work is saved; rerun the same command to resume", file=sys.stderr)
        outcome.code = 130
    except _user_error_types() as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        outcome.code = 2
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_reader_gone():
            _quiet_stdout()
            outcome.code = BROKEN_PIPE_EXIT
        elif debug:
            raise
        else:
            print(f"error: {exc.strerror or exc} ({exc.filename or 'I/O'}); check the path, permissions and free space", file=sys.stderr)
            outcome.code = 2
