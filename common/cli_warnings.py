"""Warnings of a command-line handler as ``warning:`` lines on stderr (what a user reads), not
Python's ``file:line: Category: message`` format."""

from __future__ import annotations

import contextlib
import sys
import warnings


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
