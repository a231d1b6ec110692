"""Preprocessing that travels with a backbone: resize, centre crop and normalisation.

The image side (decode, resize, crop) runs in DataLoader workers on PIL images and yields uint8
tensors; normalisation runs on the device on whole batches, which is cheaper than per image.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the network's input: shorter side to ``resize_size``, centre crop
    ``crop_size``, scale to [0, 1], then ``(x - mean) / std``."""

    crop_size: int = 224
    resize_size: int = 256
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self):
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {', '.join(_INTERPOLATIONS)}; got {self.interpolation!r}"
            )
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    @classmethod
    def from_timm_config(cls, cfg: dict) -> "Preprocessing":
        """From timm's resolved data config (``timm.data.resolve_data_config``)."""
        crop = int(cfg["input_size"][-1])
        crop_pct = float(cfg.get("crop_pct") or 0.875)
        return cls(
            crop_size=crop,
            resize_size=int(math.floor(crop / crop_pct)),
            interpolation=str(cfg.get("interpolation") or "bicubic"),
            mean=tuple(cfg["mean"]),
            std=tuple(cfg["std"]),
        )

    @classmethod
    def from_torchvision_transforms(cls, tf) -> "Preprocessing":
        """From a torchvision weights' ``transforms()`` preset (``ImageClassification``)."""
        return cls(
            crop_size=int(tf.crop_size[0]),
            resize_size=int(tf.resize_size[0]),
            interpolation=str(tf.interpolation.value),
            mean=tuple(tf.mean),
            std=tuple(tf.std),
        )

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        known = {k: d[k] for k in ("crop_size", "resize_size", "interpolation", "mean", "std") if k in d}
        return cls(**known)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        return d

    def describe(self) -> str:
        return (
            f"resize shorter side to {self.resize_size} ({self.interpolation}), centre-crop "
            f"{self.crop_size}x{self.crop_size}, scale to [0, 1], normalise with mean="
            f"{list(self.mean)} and std={list(self.std)}"
        )

    def pil_transform(self):
        """Resize + crop on the PIL image (Pillow's resampling, as timm and torchvision presets do),
        then a uint8 CHW tensor."""
        from torchvision.transforms import v2

        return v2.Compose(
            [
                v2.Resize(self.resize_size, interpolation=_interp(self.interpolation), antialias=True),
                v2.CenterCrop(self.crop_size),
                v2.PILToTensor(),
            ]
        )

    def normalize(self, batch: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """uint8 (N, 3, H, W) on any device -> normalised float batch of ``dtype``."""
        mean = torch.tensor(self.mean, device=batch.device, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std, device=batch.device, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        return ((batch.float() - mean) / std).to(dtype)


def _interp(name: str):
    from torchvision.transforms import InterpolationMode

    return InterpolationMode(name)
