"""Errors of featx.pipelines and which errors a CLI handler reports as one ``error:`` line."""

from __future__ import annotations

from featx.common.cli_errors import BROKEN_PIPE_EXIT, handle_errors

__all__ = ["BROKEN_PIPE_EXIT", "PipelineError", "SpecError", "user_errors"]


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
    from featx.common.cluster import ClusterError  # dask missing, no scheduler: one line too
    from featx.common.files import LockedError  # another job holds the output's lock
    from featx.extract import ExtractError  # light: `import featx.pipelines` stays light

    # a ClassifyError can only come from a loaded featx.classify: importing scikit-learn here,
    # while an error is handled, would cost a second and let a late signal interrupt the import
    classify = sys.modules.get("featx.classify")
    extra = (classify.ClassifyError,) if classify is not None else ()
    return (PipelineError, ExtractError, *extra, OptionError, ClusterError, LockedError)


def user_errors(debug: bool = False):
    """Run a CLI handler (``with user_errors(debug) as outcome``). User errors become one
    ``error:`` line and exit code 2: a :class:`PipelineError`, featx.extract's ``ExtractError``,
    featx.classify's ``ClassifyError``, featx.common's ``OptionError`` (a rejected setting) and
    ``ClusterError`` (dask missing, no scheduler), their
    subclasses, and any ``OSError`` (a path, permission or disk problem); ``debug`` re-raises
    them. Ctrl-C exits 130. A closed stdout (``featx info x.h5 | head -1``) is no error: the
    command stops quietly with exit code :data:`BROKEN_PIPE_EXIT`, as Unix tools do (see
    :func:`featx.common.cli_errors.handle_errors`)."""
    return handle_errors(_user_error_types, debug)
