"""A package's public names imported on first use (PEP 562), so that importing the package (the
CLI's start-up, reading settings) does not import torch or scikit-learn.

A sub-package lists its exports once, as a small text table (one module a line, then its names)::

    __all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), \"\"\"
        _compute: FeatureComputer resolve_device resolve_precision
        _runtime: build_runtime
    \"\"\")
"""

from __future__ import annotations

import importlib


def lazy_names(package: str, table: dict[str, str], namespace: dict):
    """``(__getattr__, __dir__)`` for ``package``, whose public names ``table`` maps to their
    private modules (relative to ``package``, or absolute ``featx.…``); a name is imported from
    ``package.<module>`` when first read and then kept in ``namespace`` (the package's ``globals()``)."""

    def __getattr__(name):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        path = module if module.startswith("featx.") else f"{package}.{module}"  # a sibling package's module
        value = getattr(importlib.import_module(path), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__


def parse_listing(listing: str) -> dict[str, str]:
    """``{name: module}`` of a text table with one ``module: name name ...`` line per module
    (blank lines ignored); a line without ``module:``, a module without names or a name listed
    twice is a ValueError that quotes the line."""
    table: dict[str, str] = {}
    for line in listing.splitlines():
        module, colon, names = (part.strip() for part in line.partition(":"))
        if not line.strip():
            continue
        if not (colon and module and names):
            raise ValueError(f"lazy export line {line.strip()!r} must read 'module: name name ...'")
        for name in names.split():
            if name in table:
                raise ValueError(f"lazy export {name!r} is listed twice (modules {table[name]!r} and {module!r})")
            table[name] = module
    return table


def lazy_exports(package: str, namespace: dict, listing: str, *, eager: tuple[str, ...] = ()):
    """``(__all__, __getattr__, __dir__)`` of ``package``: the names of ``listing`` (see
    :func:`parse_listing`; modules relative to ``package``, or absolute ``featx.…``) imported on
    first use, and ``eager`` names the package imports itself; ``__all__`` is all of them, sorted."""
    table = parse_listing(listing)
    return (sorted({*table, *eager}), *lazy_names(package, table, namespace))
