"""A package's public names imported on first use (PEP 562), so that importing the package (the
CLI's start-up, reading settings) does not import torch or scikit-learn."""

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
