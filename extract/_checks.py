"""Checks that report problems instead of raising, for tools that collect every problem before
starting (the pipeline spec): is a source usable for a study, does a model name or checkpoint
exist, and does a backbone build and tap the requested layers. Reading a source or a model name
imports no torch; only :func:`check_backbone` builds anything."""

from __future__ import annotations

import os

from featx.extract._errors import ExtractError, WeightsError


def check_source(path: str, *, labelled: bool = True):
    """``(table, problems)`` for the image source at ``path``, listed without decoding anything.

    ``table`` is the :class:`SourceTable`, or None when the source cannot be used at all (it is
    missing or unreadable - :func:`open_source`'s message -, or ``labelled`` and it has no labels);
    ``problems`` holds one line per problem (with ``labelled``: a study needs at least two classes)."""
    from featx.extract._sources import open_source

    try:
        table = open_source(path)
    except ExtractError as exc:
        return None, [str(exc)]
    if labelled and not table.class_names:
        return None, [f"{path!r} has no labels (no class sub-folders or label column); a study needs labelled images"]
    if labelled and len(table.class_names) < 2:
        return table, [f"{path!r} has one class only ({table.class_names[0]!r}); a classifier needs at least 2"]
    return table, []


def check_model(model: str) -> list[str]:
    """Problems with a model name or checkpoint path, found without building it: an unknown
    name (with a suggestion) or a checkpoint file that does not exist."""
    from featx.extract._registry import resolve_spec

    try:
        spec = resolve_spec(model)
    except ExtractError as exc:
        return [str(exc)]
    if spec.source == "checkpoint" and not os.path.isfile(model):
        return [f"checkpoint file {model!r} does not exist; give a model name from 'featx models' or an existing featx checkpoint"]
    return []


def check_backbone(model: str, weights: str = "default", layers=None, pool: str = "avg"):
    """``(backbone, found, problems)``: builds ``model`` (``weights`` loaded) and resolves
    ``layers`` for ``pool`` with one dry run, collecting problems instead of raising.

    ``backbone`` is the :class:`Backbone` (None when it cannot be built), ``found`` the
    :class:`LayerResolution` (None when the layers could not be resolved at all) and ``problems``
    a list of ``(what, message)`` where ``what`` is ``'model'``, ``'weights'`` or ``'layers'``."""
    from featx.extract._backbones import build_backbone
    from featx.extract._resolve import resolve_layers

    try:
        backbone = build_backbone(model, weights)
    except WeightsError as exc:
        return None, None, [("weights", str(exc))]
    except ExtractError as exc:
        return None, None, [("model", str(exc))]
    try:
        found = resolve_layers(backbone, None if layers is None else list(layers), pool, dims=True, strict=False)
    except ExtractError as exc:
        return backbone, None, [("layers", str(exc))]
    return backbone, found, [("layers", message) for message in found.problems]
