"""How a command-line handler ends and what it tells the user on stderr: user errors as one
``error:`` line, warnings as ``warning:`` lines (not Python's ``file:line: Category: message``
format), Ctrl-C, and a closed stdout (``featx info x.h5 | head -1``), which is no error, as with
Unix tools."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable

#: exit code when the reader of stdout went away (``featx info x.h5 | head``): 128 + SIGPIPE,
#: what the shell reports for a Unix tool that SIGPIPE ended
BROKEN_PIPE_EXIT = 141


class Outcome:
    """The exit code a handler ended with (0: it ran to the end)."""

    code: int = 0


def stdout_reader_gone() -> bool:
    """True when stdout is a pipe whose reader closed it (a BrokenPipeError can also come from
    another pipe, e.g. a worker's, which is a real failure)."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows) or no real stdout
        return True


def quiet_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush does not fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass


@contextlib.contextmanager
def handle_errors(user_error_types: Callable[[], tuple[type[BaseException], ...]], debug: bool = False):
    """``with handle_errors(types) as outcome: ...`` runs a handler; ``outcome.code`` is its exit
    code. An exception of ``user_error_types()`` (asked only when one is raised, so it may name
    packages the handler loaded) or any ``OSError`` (a path, permission or disk problem) becomes
    one ``error:`` line and code 2; ``debug`` re-raises them. Ctrl-C is code 130. A closed stdout
    ends the handler quietly with :data:`BROKEN_PIPE_EXIT`."""
    outcome = Outcome()
    try:
        yield outcome
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
    except KeyboardInterrupt:
        print("\ninterrupted: finished work is saved; rerun the same command to resume", file=sys.stderr)
        outcome.code = 130
    except Exception as exc:
        if isinstance(exc, user_error_types()):
            if debug:
                raise
            print(f"error: {exc}", file=sys.stderr)
        elif not isinstance(exc, OSError):
            raise
        elif isinstance(exc, BrokenPipeError) and stdout_reader_gone():
            quiet_stdout()
            outcome.code = BROKEN_PIPE_EXIT
            return
        elif debug:
            raise
        else:
            print(f"error: {exc.strerror or exc} ({exc.filename or 'I/O'}); check the path, permissions and free space", file=sys.stderr)
        outcome.code = 2


@contextlib.contextmanager
def warning_lines(category: type[Warning] = Warning, *, shown: type[Warning] | None = None):
    """Inside the block every warning of ``category`` is caught (each time it is raised); on
    leaving, those of ``shown`` (default: ``category``) are printed as ``warning: message``
    lines and the others are issued again as they were."""
    shown = category if shown is None else shown
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category)
        yield
    for w in caught:
        if issubclass(w.category, shown):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
