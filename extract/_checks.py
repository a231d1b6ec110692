"""Checks that report problems instead of raising, for tools that collect every problem before
starting (the pipeline spec): is a source usable for a study, does a model name or checkpoint
exist, and does a backbone build and tap the requested layers. Reading a source or a model name
imports no torch; only :func:`check_backbone` and :func:`resolve_backbone` build anything."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from featx.extract._errors import ExtractError, WeightsError


def check_source(path: str, *, labelled: bool = True):
    """``(table, problems)`` for the image source at ``path``, listed without decoding anything.

    ``table`` is the :class:`SourceTable`, or None when the source cannot be used at all (it is
    missing or unreadable - :func:`open_source`'s message -, or ``labelled`` and it has no labels);
    ``problems`` holds one line per problem (with ``labelled``: a study needs at least two classes)."""
    from featx.extract.images._sources import open_source

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
    from featx.extract.models._registry import resolve_spec

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
    from featx.extract.models._backbones import build_backbone
    from featx.extract.models._resolve import resolve_layers

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


@dataclasses.dataclass
class ResolvedBackbone:
    """A backbone built and checked, ready to extract with: the module (pass it to
    :func:`extract` as ``backbone=``), its resolved layers in network order, their dims, each
    resolved name's name as written, and ``spec``, whatever the caller asked for it with."""

    spec: Any
    backbone: Any
    layers: list[str]
    dims: dict[str, int]
    aliases: dict[str, str]  # resolved name -> name as written (e.g. 'global_pool' -> 'penultimate')
    order: dict[str, int]  # resolved name -> position in the network's module order
    provenance: dict = dataclasses.field(default_factory=dict)
    preprocessing: str = ""

    def label(self, layer: str) -> str:
        """``layer``, with its name as written when that differs: ``global_pool (penultimate)``."""
        alias = self.aliases.get(layer, layer)
        return layer if alias == layer else f"{layer} ({alias})"

    def as_record(self) -> dict:
        """Plain data: ``provenance``, ``preprocessing`` and per layer its name, name as written,
        dim and depth (position in the network)."""
        layers = [{"name": n, "as_written": self.aliases.get(n, n), "dim": self.dims.get(n), "depth": self.order.get(n)}
                  for n in self.layers]
        return {"provenance": self.provenance, "preprocessing": self.preprocessing, "layers": layers}


def resolve_backbone(model: str, weights: str = "default", layers=None, pool: str = "avg", *, spec=None):
    """``(resolved, problems)``: :func:`check_backbone`, its result as a :class:`ResolvedBackbone`
    (None when nothing could be resolved) and its ``(what, message)`` problems."""
    backbone, found, problems = check_backbone(model, weights, layers, pool)  # one dry run
    if found is None or not found.names:
        return None, problems
    names = found.in_network_order()
    return ResolvedBackbone(spec, backbone, names, dict(found.dims), dict(found.aliases), {n: found.order[n] for n in names},
                            backbone.provenance(), backbone.preprocessing.describe()), problems
