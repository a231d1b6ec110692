"""The head registry: one :func:`register_head` call gives a head its name, its factory, its
default search grid, its plot colour and its help; ``HEADS`` (a live view), ``DEFAULT_GRIDS`` and
``HEAD_COLOURS`` (plain dicts kept in step) follow it, so a head registered from Python (before calling
``featx.pipelines.cli.main([...])`` or ``run_spec(...)`` in the same process) is accepted by
:func:`featx.classify.make_head`, the cross-validation, the CLI's ``--heads`` and the spec's
``classify.heads``. Configs stay data: a spec or the CLI names a registered head, never code.

Light (no scikit-learn): the built-in heads (:mod:`._builtin`) register here on import."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from featx.classify._errors import ParameterError, UnknownHeadError
from featx.classify.heads._builtin import BUILTIN_HEADS
from featx.common.registry import Registry

#: Colours given, in turn, to registered heads that name none.
SPARE_COLOURS = ("#17becf", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclasses.dataclass(frozen=True)
class HeadSpec:
    """One registered head.

    ``factory(**params)`` returns an unfitted scikit-learn classifier (a class such as
    ``KNeighborsClassifier`` works); :func:`~featx.classify.make_head` calls it with
    ``defaults``, then ``random_state`` when ``seeded`` and ``n_jobs`` when ``parallel``, then the
    caller's parameters, and puts the classifier after the scaler and the PCA step. ``calibrate``:
    the classifier lacks ``predict_proba``, so ``probability=True`` wraps it in a sigmoid
    ``CalibratedClassifierCV``. ``grid``: the default search grid (Pipeline parameter names,
    ``clf__...``, ``pca__n_components``)."""

    name: str
    factory: Callable
    grid: Mapping
    colour: str
    help: str = ""
    defaults: Mapping = dataclasses.field(default_factory=dict)
    seeded: bool = False
    parallel: bool = False
    calibrate: bool = False


_HEADS = Registry("head", ParameterError, unknown=UnknownHeadError)


def _accepts(factory, name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params and params[name].kind is not inspect.Parameter.VAR_KEYWORD


def register_head(name: str, factory: Callable | None = None, *, grid: Mapping | None = None, colour: str | None = None,
                  help: str = "", defaults: Mapping | None = None, seeded: bool | None = None,
                  parallel: bool | None = None, calibrate: bool = False, replace: bool = False,
                  builtin: bool = False):
    """Register the head ``name`` (see :class:`HeadSpec`); returns ``factory``, so it also works as
    a decorator: ``@register_head("mine", grid={"clf__alpha": [0.1, 1.0]})``.

    ``grid`` defaults to ``{}`` (no hyperparameters searched; ``pca__n_components`` is only
    searched when listed), ``colour`` (``"#rrggbb"``) to the next spare colour. ``seeded`` /
    ``parallel`` default to whether the factory takes ``random_state`` / ``n_jobs``. A name
    already registered is refused unless ``replace=True``.

    >>> from sklearn.linear_model import RidgeClassifier
    >>> register_head("myridge", RidgeClassifier, grid={"clf__alpha": [0.1, 10.0]}, colour="#123456")  # doctest: +SKIP
    """
    if factory is None:
        return lambda f: register_head(name, f, grid=grid, colour=colour, help=help, defaults=defaults, seeded=seeded,
                                       parallel=parallel, calibrate=calibrate, replace=replace, builtin=builtin)
    _HEADS.check_name(name, replace=replace)
    if not callable(factory):
        raise ParameterError(f"the factory of head {name!r} must be callable (a classifier class or a function), got {factory!r}")
    grid = {} if grid is None else grid
    if not isinstance(grid, Mapping) or not all(isinstance(k, str) and "__" in k for k in grid):
        raise ParameterError(f"the grid of head {name!r} must be a dict of Pipeline parameter -> values "
                             f"such as {{'clf__C': [0.1, 1.0]}}; got {grid!r}")
    if colour is None:
        used = {h.colour for h in _HEADS.values()}
        colour = next((c for c in SPARE_COLOURS if c not in used), SPARE_COLOURS[len(_HEADS) % len(SPARE_COLOURS)])
    if not isinstance(colour, str) or not _COLOUR.match(colour):
        raise ParameterError(f"the colour of head {name!r} must be '#rrggbb', got {colour!r}")
    _HEADS.add(name, HeadSpec(
        name=name, factory=factory, grid=MappingProxyType({k: list(v) for k, v in grid.items()}), colour=colour,
        help=str(help), defaults=MappingProxyType(dict(defaults or {})),
        seeded=_accepts(factory, "random_state") if seeded is None else bool(seeded),
        parallel=_accepts(factory, "n_jobs") if parallel is None else bool(parallel), calibrate=bool(calibrate)),
        replace=replace, builtin=builtin)
    DEFAULT_GRIDS[name] = {k: list(v) for k, v in grid.items()}
    HEAD_COLOURS[name] = colour
    return factory


def unregister_head(name: str) -> None:
    """Remove a head registered with :func:`register_head` (built-in heads stay)."""
    _HEADS.remove(name)
    del DEFAULT_GRIDS[name], HEAD_COLOURS[name]


def head_spec(name) -> HeadSpec:
    """The registered :class:`HeadSpec` of ``name``; :class:`UnknownHeadError` (one line, with a
    suggestion and the registered names) otherwise."""
    return _HEADS.entry(name)


def list_heads(pattern: str = "*") -> list[str]:
    """Registered head names matching the shell-style ``pattern`` (``"svm*"``), in registration order."""
    return _HEADS.names(pattern)


#: Names of the registered heads (built-in ones first), accepted by make_head, the CLI and the spec.
HEADS = _HEADS.choices
#: Default search grid of each registered head (plain data; kept in step by register_head).
DEFAULT_GRIDS: dict[str, dict[str, list]] = {}
#: Line colour of each registered head in plots that compare heads (kept in step by register_head).
HEAD_COLOURS: dict[str, str] = {}

for _entry in BUILTIN_HEADS:
    register_head(**_entry, builtin=True)
del _entry
