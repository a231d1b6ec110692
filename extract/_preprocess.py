"""Preprocessing that travels with a backbone: resize, centre crop and normalisation.

The image side (decode, resize, crop) runs in DataLoader workers on PIL images and yields uint8
tensors; normalisation runs on the device on whole batches, which is cheaper than per image.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
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
        then a uint8 CHW tensor. Pixel for pixel the same as torchvision's
        ``v2.Compose([Resize(resize_size, antialias=True), CenterCrop(crop_size), PILToTensor()])``,
        without its per-image dispatch overhead."""
        return PilResizeCrop(self.resize_size, self.crop_size, self.interpolation)

    def normalize(self, batch: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """uint8 (N, 3, H, W) on any device -> normalised float batch of ``dtype``, in the memory
        format of ``batch`` (a channels_last batch stays channels_last: no extra copy)."""
        mean = torch.tensor(self.mean, device=batch.device, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std, device=batch.device, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        x = batch.to(torch.float32)  # a new tensor (batch is uint8), so the in-place steps are safe
        return x.sub_(mean).div_(std).to(dtype)


class PilResizeCrop:
    """PIL RGB image -> shorter side to ``resize_size`` (Pillow resampling), centre crop
    ``crop_size``. ``array`` gives HWC uint8 (what the extraction workers ship), calling the object
    gives the CHW uint8 tensor of ``PILToTensor``. Picklable, for DataLoader workers."""

    def __init__(self, resize_size: int, crop_size: int, interpolation: str):
        self.resize_size = int(resize_size)
        self.crop_size = int(crop_size)
        self.interpolation = interpolation
        self._fallback = None

    def image(self, img):
        w, h = img.size
        size, crop = self.resize_size, self.crop_size
        # torchvision's _compute_resized_output_size for a single int size
        if w <= h:
            new_w, new_h = size, int(size * h / w)
        else:
            new_w, new_h = int(size * w / h), size
        if new_w < crop or new_h < crop:  # padding needed: keep torchvision's exact rule
            return self._torchvision()(img)
        if (new_w, new_h) != (w, h):
            img = img.resize((new_w, new_h), resample=_PIL_FILTERS[self.interpolation])
        top = int(round((new_h - crop) / 2.0))
        left = int(round((new_w - crop) / 2.0))
        if (new_w, new_h) != (crop, crop):
            img = img.crop((left, top, left + crop, top + crop))
        return img

    def array(self, img) -> np.ndarray:
        """HWC uint8 array of the resized and cropped image."""
        return np.asarray(self.image(img))

    def __call__(self, img) -> torch.Tensor:
        arr = np.array(self.image(img), dtype=np.uint8, copy=True)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        return torch.from_numpy(arr).permute(2, 0, 1)

    def _torchvision(self):
        if self._fallback is None:
            from torchvision.transforms import v2

            self._fallback = v2.Compose([
                v2.Resize(self.resize_size, interpolation=_interp(self.interpolation), antialias=True),
                v2.CenterCrop(self.crop_size),
            ])
        return self._fallback

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_fallback"} | {"_fallback": None}

    def __repr__(self) -> str:
        return f"PilResizeCrop(resize_size={self.resize_size}, crop_size={self.crop_size}, interpolation={self.interpolation!r})"


def _pil_filters() -> dict:
    from PIL import Image

    R = Image.Resampling
    return {"nearest": R.NEAREST, "bilinear": R.BILINEAR, "bicubic": R.BICUBIC, "lanczos": R.LANCZOS,
            "box": R.BOX, "hamming": R.HAMMING}


_PIL_FILTERS = _pil_filters()


def _interp(name: str):
    from torchvision.transforms import InterpolationMode

    return InterpolationMode(name)
