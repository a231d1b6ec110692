"""Plain JSON data from what featx computes (numpy scalars and arrays, tuples, paths)."""

from __future__ import annotations

import math
import os
from typing import Any


def to_jsonable(value: Any, *, keep_nan: bool = False) -> Any:
    """numpy scalars/arrays -> Python numbers and lists, tuples -> lists, keys -> str.

    Non-finite floats become ``None`` (strict JSON), or stay floats with ``keep_nan=True`` (for
    files read back by Python's json). Anything else unknown becomes its ``repr`` (estimators in
    parameter grids); bytes are decoded as UTF-8, paths become strings.
    """
    import numpy as np

    if isinstance(value, dict):
        return {str(k): to_jsonable(v, keep_nan=keep_nan) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, keep_nan=keep_nan) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), keep_nan=keep_nan)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if keep_nan or math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)


def nan_from_none(value: Any) -> Any:
    """The inverse of ``to_jsonable``'s NaN -> None for numbers: ``None`` -> NaN, recursively in
    lists and dict values (other values unchanged)."""
    if value is None:
        return math.nan
    if isinstance(value, list):
        return [nan_from_none(v) for v in value]
    if isinstance(value, dict):
        return {k: nan_from_none(v) for k, v in value.items()}
    return value


def json_digest(doc: Any, *, default=repr) -> str:
    """The sha256 (hex) of ``doc`` as canonical JSON (sorted keys): equal data, equal digest.
    ``default`` renders what JSON cannot hold (``repr``; ``str`` for paths and versions)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=default).encode("utf-8")).hexdigest()
