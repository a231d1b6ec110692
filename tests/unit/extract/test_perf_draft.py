"""JPEG draft mode (decode-time downscaling) against the exact decode, on real photos.

Bound: every hymenoptera JPEG that draft mode decodes at reduced size must give default-model
features with cosine similarity >= 0.999 to the full-size decode. Measured: 0.9994 minimum (two
photos, 1488x1984 and 2592x1944). For scale, re-encoding the same photos as JPEG quality 95 moves
the features to 0.9988 minimum, and swapping bicubic for bilinear resizing to 0.989: draft mode
stays inside JPEG noise. Decoding right down to the resize target (margin 1 instead of 2) falls to
0.980 on these photos, which is why featx keeps a margin of 2.
"""

import glob
import io
import os

import numpy as np
import pytest
import torch
from PIL import Image

from featx.extract import FeatureComputer, build_backbone, decode_rgb, resolve_layers
from featx.extract.images._loading import DRAFT_MARGIN, decoding_spec, draft_size
from featx.extract._preprocess import Preprocessing

COSINE_BOUND = 0.999


def _cosine(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_draft_size_keeps_the_margin_and_is_recorded():
    pre = Preprocessing(crop_size=224, resize_size=256)
    assert draft_size(pre, True) == DRAFT_MARGIN * 256 and draft_size(pre, False) is None
    assert decoding_spec(False) == {"jpeg_draft": False}
    assert decoding_spec(True)["draft_margin"] == DRAFT_MARGIN
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (9, 99, 9)).save(buf, format="JPEG")
    img = decode_rgb(buf.getvalue(), draft_size=draft_size(pre, True))
    assert img.size == (1000, 750)  # 1/4 scale: still >= 512 on both sides


def test_draft_features_match_the_exact_decode_on_real_photos(shared_data):
    root = shared_data("hymenoptera")
    backbone = build_backbone("efficientnet_lite0")
    pre = backbone.preprocessing
    size = draft_size(pre, True)
    paths = sorted(glob.glob(os.path.join(root, "**", "*.jp*g"), recursive=True))
    datas = [open(p, "rb").read() for p in paths]
    reduced = [d for d in datas if decode_rgb(d, draft_size=size).size != decode_rgb(d).size]
    assert len(reduced) >= 2, "no hymenoptera photo is large enough for draft mode: the test proves nothing"
    tf = pre.pil_transform()
    draft = torch.stack([tf(decode_rgb(d, draft_size=size)) for d in reduced])
    exact = torch.stack([tf(decode_rgb(d)) for d in reduced])
    assert not torch.equal(draft, exact)
    layers, _ = resolve_layers(backbone, None, "avg")
    computer = FeatureComputer(backbone, layers, "avg", torch.device("cpu"), None)
    try:
        fd, fe = computer(draft)[layers[0]], computer(exact)[layers[0]]
    finally:
        computer.close()
    cos = _cosine(fd, fe)
    assert cos.min() >= COSINE_BOUND, f"draft-mode features drift: cosine {np.round(cos, 5)}"


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear", "nearest"])
@pytest.mark.parametrize("resize,crop", [(256, 224), (224, 224), (200, 224), (36, 32)])
def test_fast_resize_crop_equals_torchvision(interpolation, resize, crop):
    from torchvision.transforms import InterpolationMode, v2

    ref = v2.Compose([v2.Resize(resize, interpolation=InterpolationMode(interpolation), antialias=True),
                      v2.CenterCrop(crop), v2.PILToTensor()])
    fast = Preprocessing(crop_size=crop, resize_size=resize, interpolation=interpolation).pil_transform()
    rng = np.random.default_rng(0)
    for w, h in [(500, 375), (375, 500), (301, 299), (300, 7), (1, 1), (224, 224), (37, 33)]:
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        expected, got = ref(img), fast(img)
        assert got.shape == expected.shape and torch.equal(got, expected), (w, h)
        assert np.array_equal(fast.array(img), expected.permute(1, 2, 0).numpy())
