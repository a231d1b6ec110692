"""One factory: a model spec + weights choice -> an eval-mode :class:`Backbone`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from featx.extract.models._checkpoint import read_checkpoint
from featx.extract._errors import CheckpointError, WeightsError
from featx.extract._preprocess import Preprocessing
from featx.extract.models._registry import DEFAULT_MODEL, OFFLINE_WEIGHTS, ModelSpec, backbone_builder, resolve_spec
from featx.extract.models import _weights

RANDOM_SEED = 0  # random-init weights are seeded, so 'none' is reproducible (and resumable)


@dataclass
class Backbone:
    """A pretrained network ready for feature extraction."""

    module: torch.nn.Module
    spec: ModelSpec
    preprocessing: Preprocessing
    weights: str
    weights_sha256: str
    classes: list[str] = field(default_factory=list)
    checkpoint: dict = field(default_factory=dict)
    weights_arg: str = "default"  # what was asked for, so the same backbone can be built again

    def provenance(self) -> dict:
        """What is needed to reproduce the features: stored in caches and bundles."""
        return {
            "model": self.spec.name,
            "source": self.spec.source,
            "arch": self.spec.arch,
            "weights": self.weights,
            "weights_arg": self.weights_arg,
            "weights_sha256": self.weights_sha256,
            "preprocessing": self.preprocessing.to_dict(),
        }


def build_backbone(model: str = DEFAULT_MODEL, weights: str = "default") -> Backbone:
    """Build the backbone named by ``model`` with ``weights``.

    ``weights``: 'default' (the model's pretrained weights), 'none' (seeded random init), a
    torchvision weights name (``IMAGENET1K_V2``) or the path of a state_dict file.
    """
    spec = resolve_spec(model)
    weights = str(weights or "default")
    if spec.source == "checkpoint":
        return _from_checkpoint(spec)
    if spec.source == "registered":
        module, desc, pre = _build_registered(spec, weights)
    elif spec.source == "timm":
        module, desc, pre = _build_timm(spec, weights)
    else:
        module, desc, pre = _build_torchvision(spec, weights)
    module.eval()
    asked = os.path.abspath(weights) if _is_file_choice(weights) else weights
    return Backbone(module, spec, pre, desc, _weights.state_dict_sha256(module), weights_arg=asked)


def build_architecture(source: str, arch: str, num_classes: int | None = None) -> torch.nn.Module:
    """The bare architecture (seeded random init), optionally with ``num_classes`` outputs."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        if source == "timm":
            import timm

            kwargs = {} if num_classes is None else {"num_classes": num_classes}
            return timm.create_model(arch, pretrained=False, **kwargs)
        if source == "torchvision":
            import torchvision.models as tvm

            kwargs = {} if num_classes is None else {"num_classes": num_classes}
            return tvm.get_model(arch, weights=None, **kwargs)
        if source == "registered" and num_classes is None:
            return backbone_builder(arch)[0]("none")
    raise CheckpointError(f"unknown architecture source {source!r}; expected 'timm' or 'torchvision'"
                          + (" (a registered backbone cannot take a new classifier)" if source == "registered" else ""))


def _is_file_choice(weights: str) -> bool:
    return weights not in ("default", "none") and (os.path.exists(weights) or weights.endswith((".pt", ".pth", ".bin")))


def _build_registered(spec: ModelSpec, weights: str):
    builder, pre = backbone_builder(spec.name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)  # a builder that initialises at random is reproducible
        module = builder(weights)
    if not isinstance(module, torch.nn.Module):
        raise WeightsError(f"the builder of backbone {spec.name!r} returned {type(module).__name__}, "
                           "not a torch.nn.Module; return the network")
    return module, f"registered:{spec.name}:{weights}", pre


def _build_timm(spec: ModelSpec, weights: str):
    import timm.data

    if weights == "default" and spec.name in OFFLINE_WEIGHTS:
        module = build_architecture("timm", spec.arch)
        path = _weights.offline_weights_file(spec.name)
        _weights.apply_state_dict(module, _weights.load_weights_file(path), path)
        desc = f"{OFFLINE_WEIGHTS[spec.name][0]}:{os.path.basename(path)}"
    elif weights == "default":
        module = _weights.timm_pretrained(spec.arch)
        desc = f"timm:{spec.arch}:pretrained"
    else:
        module = build_architecture("timm", spec.arch)
        desc = _load_optional_file(module, weights)
    pre = Preprocessing.from_timm_config(timm.data.resolve_data_config({}, model=module))
    return module, desc, pre


def _build_torchvision(spec: ModelSpec, weights: str):
    import torchvision.models as tvm

    default = tvm.get_model_weights(spec.arch).DEFAULT
    module = build_architecture("torchvision", spec.arch)
    if weights == "none" or _is_file_choice(weights):
        desc = _load_optional_file(module, weights)
        transforms_from = default
    else:
        state, enum = _weights.torchvision_state_dict(spec.arch, weights)
        _weights.apply_state_dict(module, state, str(enum))
        desc = f"torchvision:{enum}"
        transforms_from = enum
    pre = Preprocessing.from_torchvision_transforms(transforms_from.transforms())
    return module, desc, pre


def _load_optional_file(module: torch.nn.Module, weights: str) -> str:
    if weights == "none":
        return "none (random init, seed 0)"
    if not _is_file_choice(weights):
        raise WeightsError(
            f"weights {weights!r} are neither 'default', 'none' nor an existing file; "
            "check the path given to --weights"
        )
    _weights.apply_state_dict(module, _weights.load_weights_file(weights), weights)
    return f"file:{os.path.abspath(weights)}"


def _from_checkpoint(spec: ModelSpec) -> Backbone:
    ckpt = read_checkpoint(spec.name)
    arch = ckpt["arch"]
    module = build_architecture(arch.get("source", ""), arch.get("arch", ""), arch.get("num_classes"))
    try:
        _weights.apply_state_dict(module, ckpt["state_dict"], spec.name)
    except WeightsError as exc:
        raise CheckpointError(f"checkpoint {spec.name!r} does not fit its own architecture: {exc}") from None
    module.eval()
    resolved = ModelSpec(os.path.abspath(spec.name), "checkpoint", f"{arch.get('source')}:{arch.get('arch')}", spec.description)
    return Backbone(
        module,
        resolved,
        Preprocessing.from_dict(ckpt["preprocessing"]),
        f"checkpoint:{os.path.abspath(spec.name)}",
        _weights.state_dict_sha256(module),
        classes=list(ckpt.get("classes") or []),
        checkpoint=ckpt,
    )
