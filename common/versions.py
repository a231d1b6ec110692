"""Installed library versions, recorded as provenance and folded into cache keys."""

from __future__ import annotations

import platform


def versions(*dists: str, python: bool = True) -> dict:
    """``{dist: version or None}`` for the named distributions (``featx`` first by convention),
    plus ``python`` unless ``python=False``."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict = {}
    if python:
        out["python"] = platform.python_version()
    for dist in dists:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out
