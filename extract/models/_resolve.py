"""Layer resolution, written once: the layers a user names (``penultimate``, module paths,
``NAME:in``) -> checked module names, what each was written as, their network order and pooled
dimensions. Extraction, the scikit-learn transformer and the pipeline spec's checks all call
:func:`resolve_layers`.
"""

from __future__ import annotations

import dataclasses
import warnings

import torch

from featx.extract.models._backbones import Backbone
from featx.extract.runtime._compute import one_thread
from featx.extract._errors import ExtractError, UnknownLayerError
from featx.common.messages import suggest
from featx.extract.models._layers import PENULTIMATE, LayerTap, penultimate_layer
from featx.extract.models._pooling import LARGE_FLAT_DIM, POOLS, TOKEN_POOLS, PoolingError, check_token_pool


@dataclasses.dataclass(frozen=True)
class LayerResolution:
    """The layers of one backbone, resolved.

    ``names``: resolved module names (``NAME:in`` taps a module's input), deduplicated, in the
    order requested. ``aliases``: resolved name -> the name as written (``'global_pool'`` ->
    ``'penultimate'``). ``dims``: pooled feature length per name (empty when not asked for).
    ``order``: resolved name -> position in the network's ``named_modules`` order.
    ``problems``: one line per problem found (empty when all is well).

    It unpacks as ``names, dims`` (the former return value of ``resolve_layers``).
    """

    names: list[str]
    aliases: dict[str, str]
    dims: dict[str, int]
    order: dict[str, int]
    problems: list[str] = dataclasses.field(default_factory=list)

    def in_network_order(self) -> list[str]:
        """``names`` sorted by their position in the network."""
        return sorted(self.names, key=lambda n: self.order[n])

    def __iter__(self):
        return iter((self.names, self.dims))


def resolve_layers(backbone: Backbone, layers=None, pool: str = "avg", *, dims: bool = True,
                   strict: bool = True) -> LayerResolution:
    """Resolve ``layers`` (a list, a comma-separated string, or None for ``penultimate``) of
    ``backbone`` for pooling ``pool``.

    ``penultimate`` is resolved by one traced dry run (none is needed for named layers); with
    ``dims=True`` (and always for a token ``pool``, whose layers must output token sequences) the
    pooled dimensions come from one more, single-threaded, dry run of the tapped model. Unknown
    names get close matches and the hint ``featx layers MODEL``. With
    ``strict=True`` the first problem is raised (:class:`UnknownLayerError` or
    :class:`ExtractError`); with ``strict=False`` every problem is listed in ``problems`` and
    the layers that resolved are kept.
    """
    problems: list[str] = []
    if pool not in POOLS:
        problems.append(f"pool must be one of {', '.join(POOLS)}; got {pool!r}")
    elif pool in TOKEN_POOLS:
        try:
            check_token_pool(backbone.module, pool, backbone.spec.name)
        except PoolingError as exc:
            problems.append(str(exc))
    modules = [n for n, _ in backbone.module.named_modules() if n]
    position = {n: k for k, n in enumerate(modules)}
    aliases: dict[str, str] = {}
    for written in _wanted(layers):
        if strict and problems:
            break
        name = _resolve_one(backbone, written, modules, position, problems, pool)
        if name is not None:
            aliases.setdefault(name, written)
        if strict and problems:
            break
    names = list(aliases)
    found: dict[str, int] = {}
    # a token pooling is checked against every layer's output at once (a dry run): a map or a
    # vector layer is refused here, before any runtime is built
    if (dims or pool in TOKEN_POOLS) and names and pool in POOLS and not (strict and problems):
        try:
            found = layer_dims(backbone, names, pool)
        except ExtractError as exc:
            problems.append(str(exc))
    if strict and problems:
        error = ExtractError if problems[0].startswith("pool ") else UnknownLayerError
        raise error(problems[0])
    order = {n: position.get(_module_of(n), len(position)) for n in names}
    return LayerResolution(names, aliases, found, order, problems)


def _wanted(layers) -> list[str]:
    items = layers.split(",") if isinstance(layers, str) else (layers or [PENULTIMATE])
    return [s.strip() for s in items if s.strip()] or [PENULTIMATE]


def _module_of(name: str) -> str:
    return name[:-3] if name.endswith(":in") else name


def _resolve_one(backbone: Backbone, written: str, modules: list[str], position: dict, problems: list[str],
                 pool: str = "avg") -> str | None:
    if written == PENULTIMATE:
        try:
            with one_thread():
                return penultimate_layer(backbone.module, example_input(backbone), pool)
        except ExtractError as exc:
            problems.append(str(exc))
            return None
    base = _module_of(written)
    if base not in position:
        model = backbone.spec.name
        problems.append(f"layer {written!r} is not present in {model}{suggest(base, modules + [PENULTIMATE])}; "
                        "list the layers with 'featx layers MODEL'")
        return None
    return written


def example_input(backbone: Backbone) -> torch.Tensor:
    """One black image at the backbone's input size (for dry runs)."""
    size = backbone.preprocessing.crop_size
    return torch.zeros(1, 3, size, size)


def layer_dims(backbone: Backbone, names: list[str], pool: str) -> dict[str, int]:
    """Pooled feature length of each layer (one single-threaded dry run of the tapped model)."""
    tap = LayerTap(backbone.module, names, pool)
    param = next(backbone.module.parameters(), None)  # the torch runtime may have moved the module
    example = example_input(backbone).to(param.device if param is not None else "cpu")
    try:
        with torch.inference_mode(), one_thread():
            out = tap(example)
    finally:
        tap.close()
    found = {k: int(v.shape[1]) for k, v in out.items()}
    for layer, dim in found.items():
        if pool == "none" and dim > LARGE_FLAT_DIM:
            warnings.warn(f"--pool none on {layer} stores {dim} values per image; consider --pool avg", stacklevel=4)
    return found
