"""Per-head settings tables (``head_pca``, ``grids``) checked against the chosen heads.

A study gives PCA and search-grid overrides per head; :func:`check_head_tables` checks both
tables at once (heads chosen, PCA values, grids searchable by the head's pipeline) and returns
every problem as ``"where: message"`` instead of raising, so a spec lists them all together.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from featx.common import OptionError
from featx.common.messages import suggest
from featx.common.options import got
from featx.common.settings import Problems

from featx.classify._errors import ClassifyError
from featx.classify.heads._grids import grid_values, resolve_grid
from featx.classify.heads._heads import HEADS
from featx.classify.heads._options import PCA

_NEEDS_NESTED = "'search' needs nested cross-validation (cv.nested = true); give a fixed value such as 0.95"


def check_head_tables(head_pca, grids, *, heads, pca, probability: bool, nested: bool,
                      where: str = "classify") -> tuple[Mapping, Mapping, list[str]]:
    """``(head_pca, grids, problems)``: the checked tables (read-only; grid values as tuples)
    and the problems found in them and in ``pca`` (``"search"`` needs ``nested``).

    ``head_pca`` maps a head to a PCA setting, ``grids`` a head to ``{parameter: [values]}``;
    every head named must be in ``heads``, and grids are only allowed with ``nested``.
    """
    problems = Problems()
    if pca == "search" and not nested:
        problems.add(f"{where}.pca", _NEEDS_NESTED)
    pcas = {}
    for at, head, value in _head_entries(head_pca, f"{where}.head_pca", "head = pca setting", heads, problems):
        try:
            pcas[head] = PCA.check(value, at)
        except OptionError as exc:
            problems.add("", str(exc))
            continue
        if pcas[head] == "search" and not nested:
            problems.add(at, _NEEDS_NESTED)
    out = {}
    for at, head, grid in _head_entries(grids, f"{where}.grids", "head -> table of parameter = [values]", heads, problems):
        if not isinstance(grid, Mapping):
            problems.add(at, f"expected a table of parameter = [values], {got(grid)}")
        elif not nested:
            problems.add(at, "grids are only searched by nested cross-validation; set cv.nested = true or remove the grid")
        else:
            out[head] = _check_grid(at, head, grid, pcas.get(head, pca), probability, problems)
    return MappingProxyType(pcas), MappingProxyType({h: g for h, g in out.items() if g is not None}), problems.items


def _head_entries(table, where: str, shape: str, heads, problems: Problems):
    """``(where, head, value)`` of the entries of ``table`` whose head is in ``heads``."""
    if not isinstance(table, Mapping):
        problems.add(where, f"expected a table of {shape}, {got(table)}")
        return
    for head, value in table.items():
        if head not in heads:
            hint = suggest(head, heads if head in HEADS else HEADS)
            problems.add(f"{where}.{head}", f"head {head!r} is not in classify.heads{hint} (heads: {', '.join(heads)})")
        else:
            yield f"{where}.{head}", head, value


def _check_grid(where: str, head: str, grid: Mapping, pca, probability: bool, problems: Problems) -> Mapping | None:
    clean = {}
    for key, values in grid.items():
        try:
            clean[key] = grid_values(values)
        except ClassifyError as exc:
            problems.add(f"{where}.{key}", str(exc))
    try:
        resolve_grid(head, {k: list(v) for k, v in clean.items()}, pca=pca, probability=probability)
    except ClassifyError as exc:
        problems.add(where, str(exc))
        return None
    return MappingProxyType(clean)
