"""Wording every error message shares: the "did you mean" suggestion and the first line of an
exception (what a one-line ``error:`` quotes of a library's multi-line message)."""

from __future__ import annotations

import difflib


def suggest(name, choices, n: int = 3) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to ``name``, or an empty string."""
    close = difflib.get_close_matches(str(name), list(dict.fromkeys(str(c) for c in choices)), n=n, cutoff=0.6)
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""


def unknown_choice(what: str, value, choices, *, sort: bool = False) -> str:
    """The one wording of a value that is not among its choices, everywhere (settings, spec keys,
    heads, grids): ``"unknown head 'lgreg'; did you mean 'logreg'? choose from: knn, logreg, ..."``
    (the choices in their own order, or sorted)."""
    shown = [str(c) for c in choices]
    hint = suggest(value, shown)
    return f"unknown {what} {value!r}{hint + ' ' if hint else '; '}choose from: {', '.join(sorted(shown) if sort else shown)}"


def first_line(exc: BaseException, limit: int | None = 160) -> str:
    """The first non-empty line of ``str(exc)`` (the exception's type name when it has no text),
    cut to ``limit`` characters (``None``: not cut)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if limit is None else line[:limit]
